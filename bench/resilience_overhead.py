"""What resilience costs a request. Run on demand (needs `wrk`: apt-get install wrk):

    .venv/bin/python bench/resilience_overhead.py [--runs 3] [--seconds 10]

1. Throughput: wrk against GET /api/v1/auth/me (authenticated, no database) on two backends of
   one stack, same uvicorn settings: the full stack (rate limiter: one Redis script per request;
   breakers on) and the baseline with RATE_LIMIT_ENABLED=false and CIRCUIT_BREAKER_ENABLED=false.
   Runs are interleaved; the server is pinned to CPU 0 and wrk to CPU 1. Goal: full/baseline >= 0.70.
2. The limiter's own latency, in process: RateLimiter.check() against the stack's Redis, next to
   a bare PING on the same connection (one round trip). Goal: one round trip, p50 < 0.3 ms.

Without wrk, only the second is measured. The figures close the output as bench/figures.py's table
(bench/run.py prints every bench's so).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as redis
from figures import Figure, missing_tool, table

from golive.fixtures.providers import create_provider
from golive.fixtures.stack import FUNCTIONAL_HEADROOM, Stack, mint_token
from golive.fixtures.sut import SutCluster
from golive.system_under_test.resilience.breaker import BreakerConfig
from golive.system_under_test.resilience.breaker_store import RedisBreakerStore
from golive.system_under_test.resilience.circuit import CircuitBreaker
from golive.system_under_test.resilience.dependency import Dependency
from golive.system_under_test.resilience.ratelimit import RateLimiter
from golive.system_under_test.resilience.retry import RetryPolicy
from golive.system_under_test.resilience.token_bucket import Limit

NAME = "resilience_overhead"


def wrk(url: str, token: str, seconds: int) -> tuple[float, float]:
    output = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            "-c32",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"wrk saw {non_2xx.group(1)} error responses: the comparison would be meaningless")
    return rate, float(p99.group(1)) * scale


def pin(cluster: SutCluster) -> None:
    for replica in cluster.replicas:
        subprocess.run(
            ["taskset", "-a", "-p", "-c", "0", str(replica.live.pid)], capture_output=True, check=True
        )


async def limiter_latency(redis_url: str, samples: int) -> tuple[float, float]:
    client = redis.Redis.from_url(redis_url)
    breaker = CircuitBreaker("redis", BreakerConfig(5, 60, 3), RedisBreakerStore(client))
    dependency = Dependency(
        "redis",
        breaker,
        None,
        is_failure=lambda error: True,
        retry=lambda: RetryPolicy(1, 2),
        breaker_enabled=lambda: True,
    )
    limiter = RateLimiter(client, dependency, None, lambda: Limit(1_000_000, 1_000_000))  # type: ignore[arg-type]
    pings, checks = [], []
    await client.ping()
    for index in range(samples):  # interleaved
        started = time.perf_counter()
        await client.ping()
        pings.append(time.perf_counter() - started)
        started = time.perf_counter()
        await limiter.check(f"bench-{index % 100}")
        checks.append(time.perf_counter() - started)
    await client.aclose()
    return statistics.median(pings) * 1000, statistics.median(checks) * 1000


@dataclass(frozen=True)
class Measured:
    results: (
        dict[str, list[tuple[float, float]]] | None
    )  # bare/full: (req/s, p99 ms) per run; None without wrk
    ping_ms: float
    check_ms: float


def measure(runs: int, seconds: int, samples: int = 5000) -> Measured:
    with_wrk = missing_tool("wrk", "wrk") is None
    with (
        tempfile.TemporaryDirectory() as run_dir,
        Stack(create_provider("local"), Path(run_dir), env=FUNCTIONAL_HEADROOM) as stack,
    ):
        results: dict[str, list[tuple[float, float]]] | None = None
        if with_wrk:
            results = throughput(stack, Path(run_dir), runs, seconds)
        ping_ms, check_ms = asyncio.run(limiter_latency(stack.sut_env["REDIS_URL"], samples))
    return Measured(results, ping_ms, check_ms)


def throughput(stack: Stack, run_dir: Path, runs: int, seconds: int) -> dict[str, list[tuple[float, float]]]:
    full = SutCluster({**stack.sut_env, "LOG_LEVEL": "WARNING"}, run_dir / "full", run_dir / "sut").start(1)
    bare_env = {
        **stack.sut_env,
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",
        "CIRCUIT_BREAKER_ENABLED": "false",
    }
    bare = SutCluster(bare_env, run_dir / "bare", run_dir / "sut").start(1)
    try:
        pin(full)
        pin(bare)
        token = mint_token(stack.sut_env["JWT_SECRET"], 2, "golive-user", "user")
        results: dict[str, list[tuple[float, float]]] = {"full": [], "bare": []}
        for cluster in (full, bare):  # warm-up
            wrk(f"{cluster.urls[0]}/api/v1/auth/me", token, 2)
        for _ in range(runs):
            for name, cluster in (("bare", bare), ("full", full)):
                results[name].append(wrk(f"{cluster.urls[0]}/api/v1/auth/me", token, seconds))
    finally:
        full.stop()
        bare.stop()
    return results


def figures_of(measured: Measured) -> list[Figure]:
    name = "backend: GET /auth/me, req/s (baseline: rate limiter and breakers off)"
    if measured.results is None:
        found = [Figure.unavailable(name, missing_tool("wrk", "wrk") or "wrk did not run")]
    else:
        found = [
            Figure(
                name,
                statistics.median(rate for rate, _ in measured.results["bare"]),
                statistics.median(rate for rate, _ in measured.results["full"]),
            )
        ]
    found.append(
        Figure(
            "backend: rate limiter check p50, ms (baseline: one Redis PING)",
            measured.ping_ms,
            measured.check_ms,
        )
    )
    return found


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: 3 runs of 10 s; with `quick` 1 of 3 s and fewer limiter samples."""
    return figures_of(measure(1, 3, 1000) if quick else measure(3, 10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    measured = measure(args.runs, args.seconds)
    if measured.results is None:
        print(f"throughput not measured: {missing_tool('wrk', 'wrk')}")
    else:
        results = measured.results
        for name in ("bare", "full"):
            rates = [rate for rate, _ in results[name]]
            p99 = statistics.median(p99 for _, p99 in results[name])
            runs = ", ".join(f"{rate:.0f}" for rate in rates)
            print(f"{name:>4}: {statistics.median(rates):8.0f} req/s (runs {runs}), p99 {p99:.2f} ms")
        ratio = statistics.median(r for r, _ in results["full"]) / statistics.median(
            r for r, _ in results["bare"]
        )
        print(f"full / bare throughput: {ratio:.2f} (goal >= 0.70)")
    ping_ms, check_ms = measured.ping_ms, measured.check_ms
    print(f"limiter check p50: {check_ms:.3f} ms (goal < 0.3)")
    print(f"Redis PING p50, one round trip: {ping_ms:.3f} ms; check / PING = {check_ms / ping_ms:.2f}")
    print()
    print(table([(NAME, figure) for figure in figures_of(measured)]))


if __name__ == "__main__":
    main()
