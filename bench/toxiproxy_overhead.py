"""What the fault proxy costs with no toxics, and how exact its toxics are. Run on demand:

    .venv/bin/python bench/toxiproxy_overhead.py [--round-trips 3000] [--megabytes 200]

Everything is measured in one run, direct and through the proxy interleaved:
1. Round-trip latency of 64-byte echoes on one connection: p50 added by the proxy (goal < 0.1 ms,
   Toxiproxy's published "< 100 us").
2. Bulk throughput of one connection into a sink: proxy / direct (goal >= 0.5).
3. Postgres: pgbench select-only, 4 clients, direct vs through the proxy.
4. Toxic accuracy: a 50 ms latency toxic (goal: p50 within 2 ms of 50 ms added) and a 2000 KB/s
   bandwidth toxic (measured rate vs asked).

Its figures close the output as bench/figures.py's table (bench/run.py prints every bench's so).
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from figures import Figure, table

from golive.fixtures.network import LOOPBACK, listening_socket
from golive.fixtures.providers.local.postgres import LocalPostgres
from golive.fixtures.toxiproxy import ToxiproxyService

# An echo and a sink server on uvloop in their own process, so the Python test client and the
# proxy each have a core's worth of room to be measured.
SERVERS = """
import asyncio, socket, sys, uvloop
async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
async def sink(reader, writer):
    total = 0
    while data := await reader.read(1 << 20):
        total += len(data)
    writer.write(str(total).encode())
    await writer.drain()
    writer.close()
async def main():
    e = socket.socket(fileno=int(sys.argv[1])); s = socket.socket(fileno=int(sys.argv[2]))
    await asyncio.start_server(echo, sock=e)
    await asyncio.start_server(sink, sock=s)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def connect(target: str) -> socket.socket:
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(target: str, count: int) -> list[float]:
    samples = []
    with connect(target) as sock:
        payload = b"x" * 64
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(payload)
            received = 0
            while received < len(payload):
                received += len(sock.recv(65536))
            samples.append(time.perf_counter() - started)
    return samples


def bulk(target: str, megabytes: int) -> float:
    block = b"y" * (1 << 20)
    with connect(target) as sock:
        started = time.perf_counter()
        for _ in range(megabytes):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        total = int(sock.recv(64))
        elapsed = time.perf_counter() - started
    assert total == megabytes << 20, total
    return megabytes / elapsed


NAME = "toxiproxy_overhead"


def pgbench(bindir: Path, host: str, port: int, password: str, seconds: int) -> float:
    env = {"PGPASSWORD": password, "PATH": "/usr/bin:/bin"}
    output = subprocess.run(
        [
            str(bindir / "pgbench"),
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-S",
            "-c",
            "4",
            "-j",
            "2",
            "-T",
            str(seconds),
            "postgres",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", output)
    assert match is not None, output
    return float(match.group(1))


@dataclass(frozen=True)
class Measured:
    latency: dict[str, list[float]]  # direct/proxy: median round trip per run, s
    throughput: dict[str, list[float]]  # MB/s
    tps: dict[str, list[float]]
    with_latency: float  # median round trip through a 50 ms latency toxic, s
    limited: float  # MiB/s through a 2000 KB/s bandwidth toxic


def measure(round_trip_count: int, megabytes: int, runs: int, pgbench_seconds: int) -> Measured:
    echo_sock, sink_sock = listening_socket(), listening_socket()
    servers = subprocess.Popen(
        [sys.executable, "-c", SERVERS, str(echo_sock.fileno()), str(sink_sock.fileno())],
        pass_fds=[echo_sock.fileno(), sink_sock.fileno()],
    )
    with tempfile.TemporaryDirectory() as logs:
        proxy_server = ToxiproxyService(Path(logs)).start()
        postgres = LocalPostgres(Path(logs)).start()
        client = proxy_server.client()
        try:
            echo, sink = address(echo_sock), address(sink_sock)
            via = {
                "echo": client.create("echo", echo)["listen"],
                "sink": client.create("sink", sink)["listen"],
                "pg": client.create("pg", f"{LOOPBACK}:{postgres.port}")["listen"],
            }
            subprocess.run(
                [
                    str(postgres.bindir / "pgbench"),
                    "-i",
                    "-q",
                    "-h",
                    LOOPBACK,
                    "-p",
                    str(postgres.port),
                    "-U",
                    "postgres",
                    "postgres",
                ],
                env={"PGPASSWORD": postgres.password, "PATH": "/usr/bin:/bin"},
                capture_output=True,
                check=True,
            )
            latency: dict[str, list[float]] = {"direct": [], "proxy": []}
            throughput: dict[str, list[float]] = {"direct": [], "proxy": []}
            tps: dict[str, list[float]] = {"direct": [], "proxy": []}
            round_trips(echo, 200), round_trips(via["echo"], 200)  # warm-up
            proxy_host, proxy_port = via["pg"].rsplit(":", 1)
            for _ in range(runs):
                latency["direct"].append(statistics.median(round_trips(echo, round_trip_count)))
                latency["proxy"].append(statistics.median(round_trips(via["echo"], round_trip_count)))
                throughput["direct"].append(bulk(sink, megabytes))
                throughput["proxy"].append(bulk(via["sink"], megabytes))
                tps["direct"].append(
                    pgbench(postgres.bindir, LOOPBACK, postgres.port, postgres.password, pgbench_seconds)
                )
                tps["proxy"].append(
                    pgbench(postgres.bindir, proxy_host, int(proxy_port), postgres.password, pgbench_seconds)
                )
            client.add_toxic("echo", "latency", {"latency": 50})
            with_latency = statistics.median(round_trips(via["echo"], 200))
            client.reset()
            client.add_toxic("sink", "bandwidth", {"rate": 2000}, stream="upstream")
            limited = bulk(via["sink"], 10)
        finally:
            client.close()
            postgres.stop()
            proxy_server.stop()
            servers.terminate()
            servers.wait(10)
    return Measured(latency, throughput, tps, with_latency, limited)


def figures_of(measured: Measured) -> list[Figure]:
    def median(values: dict[str, list[float]], which: str) -> float:
        return statistics.median(values[which])

    direct_rtt, proxy_rtt = median(measured.latency, "direct"), median(measured.latency, "proxy")
    return [
        Figure(
            "fault proxy: round trip p50, 64-byte echo, ms (baseline: direct)",
            direct_rtt * 1e3,
            proxy_rtt * 1e3,
        ),
        Figure(
            "fault proxy: bulk, one connection, MB/s (baseline: direct)",
            median(measured.throughput, "direct"),
            median(measured.throughput, "proxy"),
        ),
        Figure(
            "fault proxy: pgbench -S, 4 clients, tps (baseline: direct)",
            median(measured.tps, "direct"),
            median(measured.tps, "proxy"),
        ),
        Figure(
            "latency toxic: p50 added, ms (baseline: the 50 asked)",
            50.0,
            (measured.with_latency - proxy_rtt) * 1e3,
        ),
        # MiB/s in KB/s (1 KB = 1000 bytes, as Toxiproxy counts).
        Figure(
            "bandwidth toxic: KB/s measured (baseline: the 2000 asked)", 2000.0, measured.limited * 1048.576
        ),
    ]


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: the same, briefly with `quick` (1 run, smaller samples)."""
    if quick:
        return figures_of(measure(500, 50, 1, 2))
    return figures_of(measure(3000, 200, 3, 5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    measured = measure(args.round_trips, args.megabytes, args.runs, 5)
    latency, throughput, tps = measured.latency, measured.throughput, measured.tps
    direct_rtt, proxy_rtt = statistics.median(latency["direct"]), statistics.median(latency["proxy"])
    print(f"round trip p50: direct {direct_rtt * 1e3:.3f} ms, through the proxy {proxy_rtt * 1e3:.3f} ms")
    print(f"  added by the proxy: {(proxy_rtt - direct_rtt) * 1e3:.3f} ms (goal < 0.1)")
    direct_mb, proxy_mb = statistics.median(throughput["direct"]), statistics.median(throughput["proxy"])
    print(f"bulk, one connection: direct {direct_mb:.0f} MB/s, proxy {proxy_mb:.0f} MB/s")
    print(f"  proxy / direct: {proxy_mb / direct_mb:.2f} (goal >= 0.5)")
    direct_tps, proxy_tps = statistics.median(tps["direct"]), statistics.median(tps["proxy"])
    print(f"pgbench -S, 4 clients: direct {direct_tps:.0f} tps, proxy {proxy_tps:.0f} tps")
    print(f"  proxy / direct: {proxy_tps / direct_tps:.2f}")
    added = (measured.with_latency - proxy_rtt) * 1e3
    print(f"latency toxic 50 ms: p50 added {added:.2f} ms (error {added - 50:+.2f} ms, goal within 2)")
    rate = measured.limited * 1048.576  # MiB/s in KB/s (1 KB = 1000 bytes, as Toxiproxy counts)
    print(f"bandwidth toxic 2000 KB/s: measured {rate:.0f} KB/s ({rate / 2000:.2%} of asked)")
    print()
    print(table([(NAME, figure) for figure in figures_of(measured)]))


if __name__ == "__main__":
    main()
