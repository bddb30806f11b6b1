"""The Pusher emulator's fan-out against soketi's (an open-source Pusher server), side by side, in
one command. Run on demand:

    .venv/bin/python bench/pusher_fanout.py [--sockets 1000] [--rounds 5] [--events 5]
                                            [--burst 5000] [--no-soketi]

The two servers run at once; rounds alternate between them (soketi first in even rounds, the
emulator in odd ones), so that whatever else loads the machine weighs on both alike. Each round is
a fresh client process, the same for both: the method of the team's neutral client
(shared/tools/pusher_fanout.py), so the emulator is measured as soketi is.
1. Fan-out: `--sockets` WebSocket subscribers on one public channel; `--events` events, one at a
   time, 0.3 s apart, triggered with the official `pusher` SDK; the time from calling trigger to
   each socket's receipt. A round's p50/p99 are over its events x sockets; the figures are the
   medians over rounds, and the worst round's p99 (a stall shows there, not in a median).
   Also the server's CPU time per event (its threads' scheduler time, from /proc, over each
   event's trigger to its last receipt): what the latencies hide when the client, which reads
   1,000 frames an event in one Python process, is the slower side.
2. Throughput: `--burst` events in batches of 10 (4 requests in flight) to 10 subscribers: events/s
   from the first request to the last receipt, the median over rounds.
Each server first gets a warm-up round, not counted (soketi's JIT, the emulator's first imports).

soketi is the baseline (ratio: golive / soketi). It runs through the oracle, shared/tools/
soketi-oracle beside the repo ($GOLIVE_SOKETI_ORACLE), in a Docker container. With no engine
answering, the bench starts one with scripts/docker-engine.sh (when dockerd is installed) and stops
it at the end, as it stops the container, on error and on SIGTERM too. Without an engine, or with
--no-soketi, the emulator runs alone and the baseline is n/a, with why. The first oracle start on a
machine builds its image (minutes). Loopback only; every wait is bounded.

The figures close the output as bench/figures.py's table (bench/run.py prints every bench's so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pusher
from figures import Figure, table
from websockets.asyncio.client import connect

from golive.fixtures.description import PusherCredentials
from golive.fixtures.network import LOOPBACK, free_port
from golive.fixtures.pusher.api import sign_request
from golive.fixtures.pusher.service import PusherService

NAME = "pusher_fanout"
REPO = Path(__file__).resolve().parent.parent
ORACLE = Path(os.environ.get("GOLIVE_SOKETI_ORACLE") or REPO.parent / "shared" / "tools" / "soketi-oracle")
ENGINE = REPO / "scripts" / "docker-engine.sh"
# The oracle's fixed app (its header says so); soketi listens on loopback only.
SOKETI = PusherCredentials(host=LOOPBACK, port=0, app_id="12345", key="app-key", secret="app-secret")  # noqa: S106
FANOUT_CHANNEL, BURST_CHANNEL, EVENT = "fanout", "burst", "fanout"
BURST_SUBSCRIBERS = 10
ENGINE_START_TIMEOUT = 120  # s: dockerd answers within 30 s, the packages may need installing
ORACLE_START_TIMEOUT = 1200  # s: the first start builds a Debian image with debootstrap


# --- the client: one round against one server, in a process of its own ----------------------------


async def subscribe(
    url: str, channel: str, subscribed: asyncio.Queue[None], inbox: asyncio.Queue[tuple[float, int]]
) -> None:
    """One socket, as the neutral client's: subscribes, then stamps each event's receipt."""
    async with connect(url, max_size=None, open_timeout=30) as socket:
        async for frame in socket:
            message = json.loads(frame)
            if message["event"] == "pusher:connection_established":
                await socket.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
            elif message["event"] == "pusher_internal:subscription_succeeded":
                subscribed.put_nowait(None)
            elif message["event"] == EVENT:
                inbox.put_nowait((time.perf_counter(), json.loads(message["data"])["n"]))


async def subscribers(
    target: PusherCredentials, channel: str, count: int, inbox: asyncio.Queue[tuple[float, int]]
) -> list[asyncio.Task[None]]:
    url = f"ws://{target.host}:{target.port}/app/{target.key}?protocol=7&client=js&version=8.6.0&flash=false"
    subscribed: asyncio.Queue[None] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []
    for number in range(count):
        tasks.append(asyncio.create_task(subscribe(url, channel, subscribed, inbox)))
        if number % 100 == 99:  # in waves, as the neutral client: the listen backlog is finite
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + 120
    ready = 0
    while ready < count:
        failed = [task for task in tasks if task.done()]
        if failed:
            await asyncio.gather(*failed)  # raises what stopped a socket
            raise RuntimeError("a subscriber's socket closed before the round")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ready} of {count} sockets subscribed within 120 s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.get(), 1)
            ready += 1
    return tasks


async def receipts(
    inbox: asyncio.Queue[tuple[float, int]], number: int, count: int, deadline: float
) -> list[float]:
    """The receipt times of event `number`, until `count` are in or the deadline passes."""
    arrived: list[float] = []
    while len(arrived) < count and (left := deadline - time.perf_counter()) > 0:
        try:
            at, event = await asyncio.wait_for(inbox.get(), left)
        except TimeoutError:
            break
        if event == number:
            arrived.append(at)
    return arrived


def cpu_ns(pid: int | None) -> int | None:
    """The CPU time a process has used, all its threads, in ns (the scheduler's own count: finer
    than /proc/PID/stat's ticks); None when it cannot be read."""
    if pid is None:
        return None
    try:
        return sum(int(path.read_text().split()[0]) for path in Path(f"/proc/{pid}/task").glob("*/schedstat"))
    except (OSError, ValueError, IndexError):
        return None


async def client_round(
    target: PusherCredentials, server_pid: int | None, sockets: int, events: int, burst: int
) -> dict[str, Any]:
    inbox: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    tasks = await subscribers(target, FANOUT_CHANNEL, sockets, inbox)
    sdk = pusher.Pusher(
        app_id=target.app_id,
        key=target.key,
        secret=target.secret,
        host=target.host,
        port=target.port,
        ssl=False,
    )
    latencies: list[float] = []
    missed = 0
    cpu_used = 0
    try:
        for number in range(events):
            if number:
                await asyncio.sleep(0.3)
            cpu_before = cpu_ns(server_pid)
            started = time.perf_counter()
            await asyncio.to_thread(sdk.trigger, FANOUT_CHANNEL, EVENT, {"n": number})
            arrived = await receipts(inbox, number, sockets, started + 10)
            cpu_after = cpu_ns(server_pid)
            latencies += [(at - started) * 1000 for at in arrived]
            missed += sockets - len(arrived)
            if cpu_before is not None and cpu_after is not None:
                cpu_used += cpu_after - cpu_before
    finally:
        await _cancel(tasks)
    burst_seconds = await _burst(target, burst) if burst else None
    cpu_ms = cpu_used / 1e6 / events if cpu_ns(server_pid) is not None else None
    return {"latencies": latencies, "missed": missed, "burst_seconds": burst_seconds, "cpu_ms": cpu_ms}


async def _burst(target: PusherCredentials, events: int) -> float:
    inbox: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    tasks = await subscribers(target, BURST_CHANNEL, BURST_SUBSCRIBERS, inbox)
    expected = events * BURST_SUBSCRIBERS
    gate = asyncio.Semaphore(4)
    try:
        async with httpx.AsyncClient(base_url=f"http://{target.host}:{target.port}", timeout=30) as http:

            async def send(numbers: range) -> None:
                batch = [
                    {"name": EVENT, "channel": BURST_CHANNEL, "data": json.dumps({"n": n})} for n in numbers
                ]
                async with gate:
                    await _post(http, target, "batch_events", {"batch": batch})

            async def last_receipt() -> float:
                last = started
                for _ in range(expected):
                    last, _ = await inbox.get()
                return last

            started = time.perf_counter()
            sends = asyncio.gather(*(send(range(n, min(n + 10, events))) for n in range(0, events, 10)))
            _, last = await asyncio.wait_for(asyncio.gather(sends, last_receipt()), 120)
        return last - started
    finally:
        await _cancel(tasks)


async def _post(http: httpx.AsyncClient, target: PusherCredentials, endpoint: str, body: object) -> None:
    raw = json.dumps(body).encode()
    path = f"/apps/{target.app_id}/{endpoint}"
    query = sign_request(target.key, target.secret, "POST", path, raw)
    response = await http.post(path, params=query, content=raw, headers={"Content-Type": "application/json"})
    response.raise_for_status()


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def client_main() -> None:
    """`--client`: one round; its target and sizes come on stdin (argv would show the secret)."""
    spec = json.loads(sys.stdin.read())
    target = PusherCredentials.model_validate(spec["target"])
    result = asyncio.run(
        client_round(target, spec["server_pid"], spec["sockets"], spec["events"], spec["burst"])
    )
    print(json.dumps(result))


# --- the servers ----------------------------------------------------------------------------------


def _run(
    argv: list[str | Path], timeout: float, new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, start_new_session=new_session
    )


def _last_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def _engine_answers() -> bool:
    try:
        return _run(["docker", "version", "--format", "{{.Server.Version}}"], 30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextlib.contextmanager
def docker_engine() -> Iterator[str | None]:
    """None while an engine answers (started here when none did, and then stopped at exit), else
    why there is none."""
    if shutil.which("docker") is None:
        yield "no docker CLI (./scripts/docker-engine.sh start installs the engine)"
        return
    if _engine_answers():
        yield None  # someone else's: left as it is
        return
    if shutil.which("dockerd") is None and not Path("/usr/sbin/dockerd").exists():
        yield "no Docker engine answers and dockerd is not installed (./scripts/docker-engine.sh start)"
        return
    if os.geteuid() != 0:
        yield "no Docker engine answers, and starting dockerd needs root"
        return
    # The script writes its pid file as soon as dockerd runs: it is stopped whatever happens next.
    try:
        try:
            # In a session of its own: dockerd must not get the Ctrl-C meant for the bench, which
            # stops the container first, and then dockerd.
            started = _run([ENGINE, "start"], ENGINE_START_TIMEOUT, new_session=True)
            why = None if started.returncode == 0 else f"dockerd did not start: {_last_line(started.stderr)}"
        except subprocess.TimeoutExpired:
            why = f"dockerd did not start within {ENGINE_START_TIMEOUT} s"
        yield why
    finally:
        _run([ENGINE, "stop"], 60)


@dataclass(frozen=True)
class Baseline:
    """soketi's address, or why it is not there."""

    target: PusherCredentials | None
    why: str | None
    version: str = "soketi"
    pid: int | None = None


@contextlib.contextmanager
def soketi(wanted: bool) -> Iterator[Baseline]:
    if not wanted:
        yield Baseline(None, "not asked for (--no-soketi)")
        return
    if not os.access(ORACLE, os.X_OK):
        yield Baseline(None, f"no soketi oracle at {ORACLE} ($GOLIVE_SOKETI_ORACLE)")
        return
    with docker_engine() as no_engine:
        if no_engine is not None:
            yield Baseline(None, no_engine)
            return
        port = free_port()
        print(f"{NAME}: starting soketi on port {port} (the first start builds its image)", file=sys.stderr)
        output: str | bytes | None
        try:
            started = _run([ORACLE, "start", str(port)], ORACLE_START_TIMEOUT)
            output = started.stdout
            failure = _last_line(started.stderr) or "failed" if started.returncode else None
        except subprocess.TimeoutExpired as error:
            output, failure = error.stdout, f"soketi did not start within {ORACLE_START_TIMEOUT} s"
        text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
        # The container's id, even when soketi then failed to answer: it must be stopped.
        container = next((line for line in text.split() if re.fullmatch(r"[0-9a-f]{64}", line)), None)
        try:
            if failure or container is None:
                yield Baseline(None, f"the soketi oracle failed: {failure or 'no container id'}")
            else:
                target = SOKETI.model_copy(update={"port": port})
                yield Baseline(target, None, _soketi_version(), _container_pid(container))
        finally:
            if container is not None:
                _run([ORACLE, "stop", container], 60)


def _container_pid(container: str) -> int | None:
    """The host's pid of the container's process (node, soketi's server), for its CPU time."""
    inspected = _run(["docker", "inspect", "--format", "{{.State.Pid}}", container], 30)
    pid = inspected.stdout.strip()
    return int(pid) if inspected.returncode == 0 and pid.isdigit() and int(pid) > 0 else None


def _soketi_version() -> str:
    """What the oracle installed (its cache, see the oracle's header)."""
    package = Path.home() / ".cache/soketi-oracle/app/node_modules/@soketi/soketi/package.json"
    try:
        return f"soketi {json.loads(package.read_text())['version']}"
    except (OSError, ValueError, KeyError):
        return "soketi"


# --- rounds and figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    server: str  # "golive" or "soketi"
    latencies: list[float]  # ms, trigger called -> frame read, every socket and event
    missed: int
    burst_events: int
    burst_seconds: float | None
    cpu_ms: float | None  # the server's CPU time per fan-out event (trigger and all the writes)

    def quantile(self, q: float) -> float:
        """As the neutral client takes it: the sorted sample at index q x n."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def events_per_second(self) -> float | None:
        return self.burst_events / self.burst_seconds if self.burst_seconds else None

    def line(self) -> str:
        rate = self.events_per_second
        cpu = f"   CPU {self.cpu_ms:5.1f} ms/event" if self.cpu_ms is not None else ""
        burst = f"   burst {rate:,.0f} events/s" if rate is not None else ""
        return (
            f"{self.server:6}  p50 {self.quantile(0.5):6.1f} ms   p99 {self.quantile(0.99):6.1f} ms"
            f"   max {max(self.latencies, default=float('nan')):6.1f} ms   missed {self.missed}{cpu}{burst}"
        )


def one_round(
    server: str, target: PusherCredentials, pid: int | None, sockets: int, events: int, burst: int
) -> Round:
    spec = {
        "target": target.model_dump(),
        "server_pid": pid,
        "sockets": sockets,
        "events": events,
        "burst": burst,
    }
    timeout = 300 + events * 11 + (120 if burst else 0)  # connects, events' deadlines, the burst
    completed = subprocess.run(
        [sys.executable, __file__, "--client"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{server}'s round failed: {_last_line(completed.stderr)}")
    result = json.loads(_last_line(completed.stdout))
    return Round(
        server, result["latencies"], result["missed"], burst, result["burst_seconds"], result["cpu_ms"]
    )


@dataclass(frozen=True)
class Measured:
    sockets: int
    events: int
    burst: int
    rounds: list[Round]
    baseline: Baseline

    def of(self, server: str) -> list[Round]:
        return [one for one in self.rounds if one.server == server]

    def median_p(self, server: str, q: float) -> float | None:
        rounds = self.of(server)
        return statistics.median(one.quantile(q) for one in rounds) if rounds else None

    def worst_p99(self, server: str) -> float | None:
        return max((one.quantile(0.99) for one in self.of(server)), default=None)

    def median_cpu(self, server: str) -> float | None:
        used = [one.cpu_ms for one in self.of(server) if one.cpu_ms is not None]
        return statistics.median(used) if used else None

    def median_rate(self, server: str) -> float | None:
        rates = [rate for one in self.of(server) if (rate := one.events_per_second) is not None]
        return statistics.median(rates) if rates else None


def run(sockets: int, rounds: int, events: int, burst: int, with_soketi: bool = True) -> Measured:
    done: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="golive-bench-") as scratch, soketi(with_soketi) as baseline:
        service = PusherService(Path(scratch)).start()
        try:
            assert service.process is not None
            servers: list[tuple[str, PusherCredentials, int | None]] = [
                ("golive", service.credentials, service.process.pid)
            ]
            if baseline.target is not None:
                servers.insert(0, ("soketi", baseline.target, baseline.pid))
            for server, target, pid in servers:
                # Not counted: a first round pays for what later ones find ready (soketi's JIT,
                # the emulator's first imports and allocations).
                warm = one_round(server, target, pid, sockets, 1, min(burst, 100))
                print(f"{NAME}: warm-up: {warm.line()}", file=sys.stderr, flush=True)
            for number in range(rounds):
                # Alternate who goes first, so neither always runs just after the other's load.
                for server, target, pid in servers if number % 2 == 0 else servers[::-1]:
                    done.append(one_round(server, target, pid, sockets, events, burst))
                    print(f"{NAME}: round {number + 1}: {done[-1].line()}", file=sys.stderr, flush=True)
        finally:
            service.stop()
    return Measured(sockets, events, burst, done, baseline)


def report(measured: Measured) -> None:
    baseline = measured.baseline
    rounds = len(measured.of("golive"))
    print(
        f"fan-out to {measured.sockets} sockets, {measured.events} events a round, {rounds} rounds"
        " (trigger called -> frame read):"
    )
    for one in measured.rounds:
        print(f"  {one.line()}")
    if baseline.why is not None:
        print(f"  soketi: n/a: {baseline.why}")
    for server in ("soketi", "golive"):
        median = measured.median_p(server, 0.99)
        worst = measured.worst_p99(server)
        if median is None or worst is None:
            continue
        p50 = measured.median_p(server, 0.5) or float("nan")
        cpu = measured.median_cpu(server)
        print(
            f"  {server:6}  median p50 {p50:6.1f} ms   median p99 {median:6.1f} ms"
            f"   worst round's p99 {worst:6.1f} ms = {worst / median:.2f}x the median (target: <= 2x)"
            + (f"   CPU {cpu:.1f} ms/event" if cpu is not None else "")
        )
    golive, soketi_p99 = measured.median_p("golive", 0.99), measured.median_p("soketi", 0.99)
    if golive is not None and soketi_p99:
        print(f"  p99 golive / soketi: {golive / soketi_p99:.2f} (target: <= 1.0)")
    missed = sum(one.missed for one in measured.rounds)
    if missed:
        print(f"  missed receipts (not in the figures): {missed}")


def figures_of(measured: Measured) -> list[Figure]:
    baseline = measured.baseline
    label = f"baseline: {baseline.version}" if baseline.why is None else "soketi n/a"
    rounds = len(measured.of("golive"))
    fanout = f"Pusher fan-out to {measured.sockets} sockets"

    def figure(name: str, soketi_value: float | None, golive_value: float | None) -> Figure:
        return Figure(f"{name} ({label})", soketi_value, golive_value)

    figures = [
        figure(
            f"{fanout}, p50 ms, median of {rounds} rounds",
            measured.median_p("soketi", 0.5),
            measured.median_p("golive", 0.5),
        ),
        figure(
            f"{fanout}, p99 ms, median of {rounds} rounds",
            measured.median_p("soketi", 0.99),
            measured.median_p("golive", 0.99),
        ),
        figure(f"{fanout}, worst round's p99 ms", measured.worst_p99("soketi"), measured.worst_p99("golive")),
        figure(
            f"{fanout}, server CPU ms per event, median",
            measured.median_cpu("soketi"),
            measured.median_cpu("golive"),
        ),
    ]
    if measured.burst:
        figures.append(
            figure(
                f"Pusher events/s, batches to {BURST_SUBSCRIBERS} subscribers, median",
                measured.median_rate("soketi"),
                measured.median_rate("golive"),
            )
        )
    if baseline.why is not None:
        figures.append(Figure.unavailable("soketi, the baseline", baseline.why))
    return figures


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: 1,000 sockets, 5 rounds of 5 events, bursts of 5,000; with `quick` 200
    sockets, 2 rounds of 3 events, bursts of 1,000."""
    sizes = (200, 2, 3, 1000) if quick else (1000, 5, 5, 5000)
    return figures_of(run(*sizes))


def _terminate(signum: int, frame: FrameType | None) -> None:
    # As an exception, so that the container, dockerd and the emulator are stopped on the way out.
    raise SystemExit(128 + signum)


def main() -> None:
    if sys.argv[1:] == ["--client"]:
        client_main()
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=1000, help="subscribers of the fan-out (1000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server, interleaved (5)")
    parser.add_argument("--events", type=int, default=5, help="events triggered a round (5)")
    parser.add_argument("--burst", type=int, default=5000, help="events of a round's burst; 0: none (5000)")
    parser.add_argument("--no-soketi", action="store_true", help="the emulator alone")
    args = parser.parse_args()
    if min(args.sockets, args.rounds, args.events) < 1 or args.burst < 0:
        parser.error("--sockets, --rounds and --events are at least 1, --burst at least 0")
    signal.signal(signal.SIGTERM, _terminate)
    measured = run(args.sockets, args.rounds, args.events, args.burst, with_soketi=not args.no_soketi)
    report(measured)
    print()
    print(table([(NAME, figure) for figure in figures_of(measured)]))


if __name__ == "__main__":
    main()
