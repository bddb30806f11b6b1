"""How long `golive up --json` takes to print its line, and to tear down, against a baseline.

Baseline, in the same command: starting the smallest server golive starts (the AI-service
stand-in, a bare Starlette app under uvicorn) until it answers. The ratio says how much of the
stack's start-up is the stack itself rather than the cost of any Python server on this machine.

    .venv/bin/python bench/stack_startup.py [--runs 5] [--replicas 1] [--providers local,docker]

With several providers (the docker one needs GOLIVE_*_IMAGE, see the README), runs are interleaved
and each provider's start-up is also given as a ratio of the first one's.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from golive.fixtures.upstream.control import UpstreamServer


def golive_up(replicas: int, provider: str) -> tuple[float, float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "golive",
                "up",
                "--json",
                "--replicas",
                str(replicas),
                "--provider",
                provider,
                "--run-dir",
                run_dir,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        if not ready or not process.stdout.readline():
            process.kill()
            raise SystemExit("golive up did not print its line")
        up = time.perf_counter() - started
        stopping = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait(60)
        down = time.perf_counter() - stopping
        stages = json.loads((Path(run_dir) / "run.json").read_text())["commands"]["up"]["startup_seconds"]
    return up, down, stages


def baseline() -> float:
    with tempfile.TemporaryDirectory() as logs:
        started = time.perf_counter()
        server = UpstreamServer(Path(logs)).start()
        elapsed = time.perf_counter() - started
        server.stop()
    return elapsed


def listing(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--providers", default="local", help="comma-separated: local,docker")
    args = parser.parse_args()
    providers = args.providers.split(",")
    bases: list[float] = []
    ups: dict[str, list[float]] = {provider: [] for provider in providers}
    downs: dict[str, list[float]] = {provider: [] for provider in providers}
    stages: dict[str, list[dict[str, float]]] = {provider: [] for provider in providers}
    for _ in range(args.runs):  # interleaved, so drift on the machine hits all alike
        bases.append(baseline())
        for provider in providers:
            up, down, stage = golive_up(args.replicas, provider)
            ups[provider].append(up)
            downs[provider].append(down)
            stages[provider].append(stage)
    median_base = statistics.median(bases)
    first = statistics.median(ups[providers[0]])
    print(f"machine: {os.cpu_count()} cores; runs: {args.runs}; replicas: {args.replicas}")
    print(f"baseline, one bare uvicorn app:  median {median_base:.2f} s  (runs: {listing(bases)})")
    for provider in providers:
        median_up = statistics.median(ups[provider])
        tag = f"[{provider}]"
        runs = listing(ups[provider])
        print(f"{tag} golive up --json, spawn to line: median {median_up:.2f} s  (runs: {runs})")
        print(f"{tag} teardown after SIGINT: median {statistics.median(downs[provider]):.2f} s")
        print(f"{tag} ratio stack / baseline: {median_up / median_base:.1f}x")
        print(f"{tag} ratio to {providers[0]}: {median_up / first:.2f}x")
        for name in stages[provider][0]:
            median_stage = statistics.median(stage[name] for stage in stages[provider])
            print(f"{tag}   stage {name:<9} median {median_stage:.2f} s")


if __name__ == "__main__":
    main()
