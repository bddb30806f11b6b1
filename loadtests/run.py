"""A Locust run as golive drives it: Locust headless in processes of its own (one, or a master and
workers in Locust's distributed mode: started here beside it, or coming from other machines),
live progress from its per-second history, the breakers watched beside it, and the results read
back, judged against the profile's thresholds (and compared with an earlier run's, when one is
given), and written as one document and one timeline (golive.core.load_evidence).

A worker is the same process wherever it runs (`LocustWorker`): golive starts it with nothing of
the run in its environment, and its master hands it the hosts and accounts with the run (see the
locustfile). golive watches each Locust process through the notes the locustfile writes
(GOLIVE_LOAD_EVENTS): a worker is bounded in time by them (no master within its deadline, or none
heard from for as long, and it is stopped), and the master's say whether its workers came.

Locust is only ever a subprocess: importing it patches the whole interpreter (gevent).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from golive.core import http_clients
from golive.core.load_evidence import (
    BASELINE_FILE,
    LOAD_FILE,
    TIMELINE_FILE,
    EndpointFigures,
    GeneratorCpu,
    LoadProfile,
    LoadRecord,
    Machine,
    ThresholdOutcome,
    TimelineEvent,
    TimelineRecord,
    TimelineSecond,
)
from golive.core.load_regression import Regression, compare
from golive.fixtures.network import LOOPBACK, PortClaim, reserve_port
from golive.fixtures.processes import ChildProcess
from golive.loadtests.profiles import Profile
from golive.loadtests.results import ResultsError, RunStats, read_history, read_stats
from golive.loadtests.thresholds import Verdict, evaluate_all

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PREFIX = "locust"  # locust_stats.csv, locust_stats_history.csv, ...
GRACE_SECONDS = 60.0  # beyond the run time: spawning, the stop timeout, writing the reports
POLL_SECONDS = 0.25
MASTER_PORT = 5557  # Locust's
# How long a master waits for its workers: those started beside it, and those from other machines
# (images to pull, pods to schedule); then it gives up, and says how many came.
LOCAL_WORKERS_WAIT = 30.0
REMOTE_WORKERS_WAIT = 300.0
# Variables of the run that a worker golive starts does not get: its master hands it the run's.
RUN_VARIABLES = ("GOLIVE_LOAD_", "GOLIVE_USER_", "GOLIVE_ADMIN_")


class LoadError(RuntimeError):
    """The run itself failed (Locust did not start, crashed, or wrote nothing)."""


@dataclass
class BreakerChange:
    at: float  # epoch seconds
    breaker: str
    state: str


class BreakerWatcher(threading.Thread):
    """Polls `/circuit-breakers/status` and keeps each change of state: the breaker line of the
    timeline. A missed sample is no error: under load or faults the backend may not answer."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="breaker-watcher", daemon=True)
        self.base_url = base_url
        self.changes: list[BreakerChange] = []
        self._states: dict[str, str] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        with http_clients.Client(base_url=self.base_url, timeout=5) as client:
            while not self._stopped.wait(POLL_SECONDS):
                try:
                    breakers = client.get("/circuit-breakers/status").json()["data"]["breakers"]
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    continue
                for name, status in breakers.items():
                    if self._states.get(name) != status["state"]:
                        self._states[name] = status["state"]
                        self.changes.append(BreakerChange(round(time.time(), 3), name, status["state"]))

    def stop(self) -> None:
        self._stopped.set()
        self.join(10)


@dataclass
class GeneratorLoad:
    """Locust's own CPU, all its processes together, in % of one core."""

    samples: list[float] = field(default_factory=list)

    @property
    def average(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else None

    @property
    def peak(self) -> float | None:
        return round(max(self.samples), 1) if self.samples else None


@dataclass
class LoadResult:
    run_id: str  # the run directory's name
    profile: Profile
    machine: Machine
    backends: int
    workers: int
    stats: RunStats
    history: list[TimelineSecond]  # the breakers' states not yet in
    verdicts: list[Verdict]
    breakers: list[BreakerChange]
    generator: GeneratorLoad
    events: list[dict[str, Any]] = field(default_factory=list)  # e.g. a chaos experiment's
    exit_code: int = 0  # Locust's
    baseline: LoadRecord | None = None  # an earlier run to compare with (--baseline)

    @property
    def ok(self) -> bool:
        """Every threshold held (what load.json's `ok` says: a later run may take it as baseline)."""
        return all(verdict.ok for verdict in self.verdicts)

    @property
    def regression(self) -> Regression:
        return compare(self.document(), self.baseline)

    @property
    def experiment(self) -> tuple[str, str] | None:
        """The chaos experiment run beside the load and its outcome (None: none ran)."""
        ends = [event for event in self.events if event["kind"] == "experiment"]
        return (str(ends[-1]["name"]), str(ends[-1]["outcome"])) if ends else None

    @property
    def passed(self) -> bool:
        """Every threshold held, no endpoint regressed against the baseline, and the chaos
        experiment run beside the load, if any, held: a load "under faults" whose faults never
        came, or whose hypothesis failed, did not test what it was asked to."""
        under_faults = self.experiment is None or self.experiment[1] == "held"
        return self.ok and not self.regression.regressed and under_faults

    def document(self) -> LoadRecord:
        return LoadRecord(
            run_id=self.run_id,
            # The record's own type, as reading it back gives it (not the Profile subclass).
            profile=LoadProfile.model_validate(self.profile.model_dump()),
            machine=self.machine,
            backends=self.backends,
            ok=self.ok,
            locust_workers=self.workers,
            workers_reporting=self.stats.workers,
            duration_seconds=round(self.stats.duration, 2),
            total=self.stats.select().summary(),
            groups={group: self.stats.select(group=group).summary() for group in self.stats.groups},
            endpoints={
                endpoint.name: EndpointFigures(
                    **self.stats.select(name=endpoint.name).summary().model_dump(),
                    group=endpoint.group,
                    expects_throttle=endpoint.expects_throttle,
                    throttled=endpoint.throttled,
                )
                for endpoint in self.stats.endpoints
            },
            thresholds=[
                ThresholdOutcome(threshold=v.threshold.source, ok=v.ok, observed=v.observed, detail=v.detail)
                for v in self.verdicts
            ],
            generator_cpu_percent=GeneratorCpu(average=self.generator.average, peak=self.generator.peak),
        )

    def timeline(self) -> TimelineRecord:
        """One row per second: load, latency, errors, and the breakers' states at that second;
        then every event (breaker changes, faults) at its time, all on the run's clock."""
        start = self.history[0].at if self.history else int(time.time())
        states: dict[str, str] = {}
        changes = sorted(self.breakers, key=lambda change: change.at)
        rows = []
        for second in self.history:
            while changes and changes[0].at < second.at + 1:
                change = changes.pop(0)
                states[change.breaker] = change.state
            rows.append(second.model_copy(update={"breakers": dict(states)}))
        events = [
            TimelineEvent(
                t=round(change.at - start, 3), kind="breaker", breaker=change.breaker, state=change.state
            )
            for change in self.breakers
        ]
        events += [TimelineEvent(**{**event, "t": round(event["at"] - start, 3)}) for event in self.events]
        return TimelineRecord(
            started_at=start, seconds=rows, events=sorted(events, key=lambda event: event.t)
        )

    def write(self, directory: Path) -> Path:
        """load.json and timeline.json, and the baseline compared with (a stale one removed: a
        run directory may be reused). Returns load.json's path."""
        baseline = directory / BASELINE_FILE
        baseline.unlink(missing_ok=True)
        if self.baseline is not None:
            self.baseline.write(baseline)
        self.timeline().write(directory / TIMELINE_FILE)
        return self.document().write(directory / LOAD_FILE)


@dataclass(frozen=True)
class MasterBinding:
    """Where a master listens for workers from other machines (`golive load --master`), and how
    many of them it waits for."""

    host: str  # an address of this machine, or * for all of them
    port: int
    workers: int
    wait_seconds: float = REMOTE_WORKERS_WAIT  # for all of them to come; then the run fails


class LocustRun:
    def __init__(
        self,
        profile: Profile,
        hosts: list[str],
        accounts_file: Path,
        out_dir: Path,
        log_dir: Path,
        *,
        workers: int = 0,
        master: MasterBinding | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if not hosts:
            raise ValueError("no host to load")
        self.profile = profile
        self.hosts = hosts
        self.accounts_file = accounts_file
        self.out_dir = out_dir
        self.log_dir = log_dir
        self.workers = workers  # started here, beside the master
        self.master = master  # workers from elsewhere, too
        self.extra_args = extra_args  # more of Locust's options (the capacity benchmark's --reset-stats)
        self.processes: list[ChildProcess] = []
        self.generator = GeneratorLoad()
        self._claim: PortClaim | None = None  # the master's port, when it binds one here

    @property
    def expected_workers(self) -> int:
        return self.workers + (self.master.workers if self.master else 0)

    @property
    def workers_wait(self) -> float:
        return self.master.wait_seconds if self.master else LOCAL_WORKERS_WAIT

    @property
    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GOLIVE_LOAD_HOSTS": ",".join(self.hosts),
            "GOLIVE_LOAD_ACCOUNTS": str(self.accounts_file),
            "GOLIVE_LOAD_WEIGHTS": json.dumps(self.profile.journeys),
            "GOLIVE_LOAD_EVENTS": str(self._notes),
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def _notes(self) -> Path:
        """The main Locust process's notes, next to its log."""
        return self.log_dir / f"{'locust-master' if self.expected_workers else 'locust'}.events.jsonl"

    def start(self) -> LocustRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (*self.out_dir.glob(f"{PREFIX}_*.csv"), self.out_dir / "stats.json"):
            stale.unlink(missing_ok=True)  # a reused run directory: only this run's results count
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._notes.unlink(missing_ok=True)
        profile = self.profile
        headless = [
            "--headless",
            "--users", str(profile.users),
            "--spawn-rate", str(profile.spawn_rate),
            "--run-time", f"{int(profile.seconds)}s",
            "--stop-timeout", "5",
            "--csv", str(self.out_dir / PREFIX),
            "--csv-full-history",
            "--html", str(self.out_dir / "report.html"),
            "--json-file", str(self.out_dir / "stats"),
            "--only-summary",
            # Failures are for the thresholds to judge, not for Locust's exit code.
            "--exit-code-on-error", "0",
            *self.extra_args,
        ]  # fmt: skip
        if not self.expected_workers:
            self._spawn("locust", locust_argv(*headless))
            return self
        if self.master:
            bind_host, port = self.master.host, self.master.port
        else:  # claimed from golive's other processes while Locust starts, which takes a while
            self._claim = reserve_port()
            bind_host, port = LOOPBACK, self._claim.port
        master = [
            "--master",
            "--master-bind-host", bind_host,
            "--master-bind-port", str(port),
            "--expect-workers", str(self.expected_workers),
            "--expect-workers-max-wait", str(int(self.workers_wait)),
        ]  # fmt: skip
        self._spawn("locust-master", locust_argv(*headless, *master))
        for index in range(self.workers):
            worker = LocustWorker(f"locust-worker-{index}", LOOPBACK, port, self.log_dir).start()
            self.processes.append(worker.process)
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        process = ChildProcess(
            name, argv, log_path=self.log_dir / f"{name}.log", env=self._env, cwd=self.out_dir
        )
        self.processes.append(process.start())

    @property
    def main(self) -> ChildProcess:
        return self.processes[0]

    def wait(self, progress: Callable[[TimelineSecond], None] = lambda second: None) -> int:
        """Until Locust ends (or the run time plus a grace period, and the wait for its workers,
        passes: then it is stopped), reporting each new second of its history. Returns Locust's
        exit code."""
        limit = self.profile.seconds + GRACE_SECONDS + (self.workers_wait if self.expected_workers else 0)
        deadline = time.monotonic() + limit
        history = self.out_dir / f"{PREFIX}_stats_history.csv"
        reported = 0
        processes = {child.pid: psutil.Process(child.pid) for child in self.processes}
        while self.main.exit_code() is None:
            if time.monotonic() > deadline:
                self.stop()
                raise LoadError(f"Locust did not finish within {limit:.0f} s")
            self._sample_cpu(processes)
            if history.exists():
                seconds = read_history(history)
                for second in seconds[reported:]:
                    progress(second)
                reported = max(reported, len(seconds))
            time.sleep(POLL_SECONDS)
        code = self.main.exit_code()
        assert code is not None
        return code

    def _sample_cpu(self, processes: Mapping[int, psutil.Process]) -> None:
        total = 0.0
        for process in processes.values():
            try:
                # Since the previous call on the same object; the first call says 0.
                total += process.cpu_percent(None)
            except psutil.Error:
                continue
        if total:
            self.generator.samples.append(total)

    def stop(self) -> None:
        try:
            for process in reversed(self.processes):
                process.stop(timeout=15)
        finally:
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    def result(
        self,
        exit_code: int,
        breakers: list[BreakerChange],
        events: list[dict[str, Any]],
        baseline: LoadRecord | None = None,
    ) -> LoadResult:
        if exit_code not in (0, 1):
            tail = self.main.log_tail(8)
            raise LoadError(f"Locust exited with {exit_code}:\n{tail}")
        notes = read_notes(self._notes)
        if self.expected_workers and not any(note["event"] == "run" for note in notes):
            came = sum(note["event"] == "worker" for note in notes)
            raise LoadError(
                f"{came} of {self.expected_workers} Locust workers connected within "
                f"{self.workers_wait:.0f} s: the run did not start"
            )
        try:
            stats = read_stats(self.out_dir / "stats.json")
            history = read_history(self.out_dir / f"{PREFIX}_stats_history.csv")
        except ResultsError as error:
            raise LoadError(f"{error}\n{self.main.log_tail(8)}") from None
        return LoadResult(
            run_id=self.out_dir.parent.name,
            profile=self.profile,
            machine=Machine.here(),
            backends=len(self.hosts),
            workers=self.expected_workers,
            stats=stats,
            history=history,
            verdicts=evaluate_all(self.profile.parsed_thresholds(), stats),
            breakers=breakers,
            generator=self.generator,
            events=events,
            exit_code=exit_code,
            baseline=baseline,
        )


@contextmanager
def locust_run(
    profile: Profile,
    hosts: list[str],
    accounts_file: Path,
    out_dir: Path,
    log_dir: Path,
    workers: int = 0,
    master: MasterBinding | None = None,
) -> Iterator[LocustRun]:
    run = LocustRun(profile, hosts, accounts_file, out_dir, log_dir, workers=workers, master=master)
    try:
        yield run.start()
    finally:
        run.stop()


def locust_argv(*options: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *options]


def read_notes(path: Path) -> list[dict[str, Any]]:
    """The locustfile's notes (GOLIVE_LOAD_EVENTS); a line being written as we read is left out."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    notes = []
    for line in lines:
        try:
            note = json.loads(line)
        except ValueError:
            continue
        if isinstance(note, dict) and isinstance(note.get("event"), str):
            notes.append(note)
    return notes


class WorkerError(LoadError):
    """A worker's run ended without its master ending it: the master never answered, went
    silent, or the worker failed."""


@dataclass(frozen=True)
class WorkerReport:
    """What a worker did for its master: its number there, and the requests it sent (all of them
    are in the master's statistics)."""

    index: int
    requests: int
    failures: int


class LocustWorker:
    """A Locust worker under golive: beside its master for `golive load --workers N`, or alone on
    another machine for `golive load --worker`; the same process either way. Nothing of the run
    is in its environment: the master hands over the hosts and accounts with the run."""

    def __init__(self, name: str, master_host: str, master_port: int, log_dir: Path) -> None:
        self.name = name
        self.master_host = master_host
        self.master_port = master_port
        self.notes_path = log_dir / f"{name}.events.jsonl"
        env = {key: value for key, value in os.environ.items() if not key.startswith(RUN_VARIABLES)}
        argv = locust_argv(
            "--worker",
            "--master-host", master_host,
            "--master-port", str(master_port),
            # Its requests' failures are the master's to judge.
            "--exit-code-on-error", "0",
        )  # fmt: skip
        self.process = ChildProcess(
            name,
            argv,
            log_path=log_dir / f"{name}.log",
            env={**env, "GOLIVE_LOAD_EVENTS": str(self.notes_path), "PYTHONUNBUFFERED": "1"},
            cwd=log_dir,
        )

    @property
    def master(self) -> str:
        return f"{self.master_host}:{self.master_port}"

    def start(self) -> LocustWorker:
        self.notes_path.parent.mkdir(parents=True, exist_ok=True)
        self.notes_path.unlink(missing_ok=True)
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop(timeout=15)

    def wait(self, timeout: float, connected: Callable[[int], None] = lambda index: None) -> WorkerReport:
        """Until its master ends the run (the worker's report), or WorkerError: no master answered
        within `timeout` seconds, or none was heard from for as long (the worker is then
        stopped), or the worker ended on its own before its master ended the run."""
        deadline = time.monotonic() + timeout
        told = False
        while (code := self.process.exit_code()) is None:
            notes = read_notes(self.notes_path)
            joined = next((note for note in notes if note["event"] == "connected"), None)
            if joined is not None and not told:
                connected(int(joined.get("index", 0)))
                told = True
            if joined is None and time.monotonic() > deadline:
                self.stop()
                raise WorkerError(
                    f"no Locust master answered at {self.master} within {timeout:g} s "
                    f"({unreachable(self.master_host, self.master_port)})"
                )
            if joined is not None and self._silent_for() > timeout:
                self.stop()
                raise WorkerError(
                    f"lost the Locust master at {self.master}: not heard from for {timeout:g} s"
                )
            time.sleep(POLL_SECONDS)
        return self._report(code, read_notes(self.notes_path))

    def _silent_for(self) -> float:
        """Seconds since the master was last heard from (its heartbeats touch the notes)."""
        try:
            return time.time() - self.notes_path.stat().st_mtime
        except OSError:
            return 0.0

    def _report(self, code: int, notes: list[dict[str, Any]]) -> WorkerReport:
        events = {note["event"]: note for note in notes}
        if "connected" not in events:
            last = self.process.log_tail(1).strip() or f"exit code {code}"
            raise WorkerError(f"the Locust worker ended before reaching its master at {self.master}: {last}")
        if "over" not in events:
            raise WorkerError(f"lost the Locust master at {self.master} before it ended the run")
        ended = events.get("ended", {})
        return WorkerReport(
            index=int(events["connected"].get("index", 0)),
            requests=int(ended.get("requests", 0)),
            failures=int(ended.get("failures", 0)),
        )


def unreachable(host: str, port: int) -> str:
    """Why a master may not have answered, as far as this machine can tell."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"{host} does not resolve"
    try:
        with socket.create_connection((host, port), timeout=3):
            return "something listens there, but no Locust master answered"
    except ConnectionRefusedError:
        return "nothing listens there"
    except OSError as error:
        return f"no connection: {error.strerror or error}"


def binding_problem(binding: MasterBinding) -> str | None:
    """Why a master could not listen there (the address is not this machine's, the port is
    taken), or None. Checked before anything starts; Locust would only say so in its log."""
    host = "0.0.0.0" if binding.host == "*" else binding.host  # noqa: S104 (the user asked for every address)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, binding.port))
    except OSError as error:
        return str(error.strerror or error)
    return None
