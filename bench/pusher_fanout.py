"""What one Pusher emulator process delivers. Run on demand:

    .venv/bin/python bench/pusher_fanout.py [--sockets 1000] [--events 50] [--burst 5000]

1. Fan-out latency: 1,000 sockets subscribed to one channel; one event at a time is triggered
   through the signed HTTP API, and the time from sending the trigger to receipt is taken at every
   socket (p50/p99 over events x sockets).
2. Throughput: a burst of events (batch_events, 10 per request) to a channel with 10 subscribers:
   events/s from the first request to the last receipt.
3. Baseline, same client, same machine, in the same run: a bare `websockets` server that
   broadcasts each message of a control connection to the same number of sockets (no HTTP, no
   protocol). The emulator's figures are reported against it as ratios.

The receivers are one asyncio process: the figures include its time to read 1,000 frames per
event (which is also what the baseline pays).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from golive.fixtures.description import PusherCredentials
from golive.fixtures.network import LOOPBACK, listening_socket
from golive.fixtures.pusher.api import sign_request
from golive.fixtures.pusher.service import PusherService

CHANNEL = "bench-fanout"
BASELINE_SERVER = """
import asyncio, socket, sys, websockets
from websockets.asyncio.server import broadcast, serve
clients = set()
async def handler(ws):
    if ws.request.path == "/control":
        async for message in ws:
            broadcast(clients, message)
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)
async def main():
    async with serve(handler, sock=socket.socket(fileno=int(sys.argv[1])), max_queue=None):
        await asyncio.Event().wait()
asyncio.run(main())
"""


class Receivers:
    """Sockets whose readers stamp every event's arrival (perf_counter) by event number."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.arrivals: dict[int, list[float]] = {}
        self.complete: dict[int, asyncio.Event] = {}
        self.expected = 0
        self._tasks: list[asyncio.Task[None]] = []

    def expect(self, number: int, copies: int) -> asyncio.Event:
        self.arrivals[number] = []
        self.complete[number] = asyncio.Event()
        self.expected = copies
        return self.complete[number]

    def adopt(self, socket: ClientConnection, decode: Callable[[str | bytes], int | None]) -> None:
        self.sockets.append(socket)
        self._tasks.append(asyncio.create_task(self._read(socket, decode)))

    async def _read(self, socket: ClientConnection, decode: Callable[[str | bytes], int | None]) -> None:
        async for frame in socket:
            now = time.perf_counter()
            number = decode(frame)
            if number is None or number not in self.arrivals:
                continue
            arrivals = self.arrivals[number]
            arrivals.append(now)
            if len(arrivals) == self.expected:
                self.complete[number].set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(socket.close() for socket in self.sockets), return_exceptions=True)


def pusher_number(frame: str | bytes) -> int | None:
    message = json.loads(frame)
    if message.get("event") != "tick":
        return None
    number: int = json.loads(message["data"])["n"]
    return number


def baseline_number(frame: str | bytes) -> int | None:
    number: int = json.loads(frame)["n"]
    return number


async def pusher_receivers(credentials: PusherCredentials, count: int) -> Receivers:
    receivers = Receivers()
    url = f"ws://{credentials.host}:{credentials.port}/app/{credentials.key}?protocol=7"
    gate = asyncio.Semaphore(100)  # connect in waves: the listen backlog is finite

    async def one() -> None:
        async with gate:
            socket = await connect(url, max_queue=None)
            await socket.recv()  # connection_established
            await socket.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}}))
            await socket.recv()  # subscription_succeeded
            receivers.adopt(socket, pusher_number)

    await asyncio.gather(*(one() for _ in range(count)))
    return receivers


async def baseline_receivers(url: str, count: int) -> Receivers:
    receivers = Receivers()
    gate = asyncio.Semaphore(100)

    async def one() -> None:
        async with gate:
            receivers.adopt(await connect(f"{url}/listen", max_queue=None), baseline_number)

    await asyncio.gather(*(one() for _ in range(count)))
    return receivers


async def latencies(
    receivers: Receivers, send: Callable[[int], Awaitable[None]], events: int, copies: int
) -> list[float]:
    samples: list[float] = []
    for number in range(events):
        done = receivers.expect(number, copies)
        started = time.perf_counter()
        await send(number)
        await asyncio.wait_for(done.wait(), 30)
        samples += [(arrived - started) * 1000 for arrived in receivers.arrivals[number]]
    return samples


def quantile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q * 100) - 1]


async def run(sockets: int, events: int, burst: int) -> None:
    with tempfile.TemporaryDirectory(prefix="golive-bench-") as scratch:
        service = PusherService(Path(scratch)).start()
        baseline_socket = listening_socket()
        baseline_url = f"ws://{LOOPBACK}:{baseline_socket.getsockname()[1]}"
        baseline = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
            [sys.executable, "-c", BASELINE_SERVER, str(baseline_socket.fileno())],
            pass_fds=[baseline_socket.fileno()],
        )
        baseline_socket.close()
        try:
            await _measure(service.credentials, baseline_url, sockets, events, burst)
        finally:
            baseline.terminate()
            baseline.wait(10)
            service.stop()


async def _measure(
    credentials: PusherCredentials, baseline_url: str, sockets: int, events: int, burst: int
) -> None:
    api = f"http://{credentials.host}:{credentials.port}"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:

        async def trigger(number: int) -> None:
            await _post(
                http,
                credentials,
                "events",
                {"name": "tick", "channel": CHANNEL, "data": json.dumps({"n": number})},
            )

        receivers = await pusher_receivers(credentials, sockets)
        emulator = await latencies(receivers, trigger, events, sockets)
        await receivers.close()

        for _ in range(100):  # the baseline server starts beside the emulator
            try:
                control = await connect(f"{baseline_url}/control")
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise SystemExit("the baseline server did not start")
        receivers = await baseline_receivers(baseline_url, sockets)

        async def broadcast(number: int) -> None:
            await control.send(json.dumps({"n": number}))

        bare = await latencies(receivers, broadcast, events, sockets)
        await receivers.close()
        await control.close()

        subscribers = 10
        receivers = await pusher_receivers(credentials, subscribers)
        done = [receivers.expect(number, subscribers) for number in range(burst)]
        started = time.perf_counter()
        batches = [range(first, min(first + 10, burst)) for first in range(0, burst, 10)]
        gate = asyncio.Semaphore(4)

        async def send_batch(numbers: range) -> None:
            async with gate:
                batch = [{"name": "tick", "channel": CHANNEL, "data": json.dumps({"n": n})} for n in numbers]
                await _post(http, credentials, "batch_events", {"batch": batch})

        await asyncio.gather(*(send_batch(numbers) for numbers in batches))
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in done)), 60)
        elapsed = time.perf_counter() - started
        await receivers.close()

    p50, p99 = quantile(emulator, 0.5), quantile(emulator, 0.99)
    b50, b99 = quantile(bare, 0.5), quantile(bare, 0.99)
    print(f"fan-out to {sockets} sockets, {events} events (trigger sent -> frame read):")
    print(f"  emulator   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    print(f"  baseline   p50 {b50:7.2f} ms   p99 {b99:7.2f} ms   (bare websockets broadcast)")
    print(f"  ratio      p50 {p50 / b50:7.2f}      p99 {p99 / b99:7.2f}")
    print(f"throughput: {burst} events to {subscribers} subscribers in {elapsed:.2f} s")
    print(f"  {burst / elapsed:,.0f} events/s, {burst * subscribers / elapsed:,.0f} deliveries/s")


async def _post(http: httpx.AsyncClient, credentials: PusherCredentials, endpoint: str, body: object) -> None:
    raw = json.dumps(body).encode()
    path = f"/apps/{credentials.app_id}/{endpoint}"
    query = sign_request(credentials.key, credentials.secret, "POST", path, raw)
    response = await http.post(path, params=query, content=raw, headers={"Content-Type": "application/json"})
    response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--burst", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(run(args.sockets, args.events, args.burst))


if __name__ == "__main__":
    main()
