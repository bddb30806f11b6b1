"""How long `golive up --json` takes to print its line, and to tear down, against baselines measured
in the same command, runs interleaved (drift on the machine hits all alike):

- the same golive with GOLIVE_PG_CACHE=off: initdb for every run instead of a copy of the cluster
  cached once per machine (fixtures/providers/local/cluster_cache.py);
- starting the smallest server golive starts (the AI-service stand-in, a bare Starlette app under
  uvicorn) until it answers: how much of the start-up is the stack rather than the cost of any
  Python server on this machine;
- with --tree DIR, another checkout of golive (`git archive HEAD | tar -x -C DIR` for the last
  commit) run with PYTHONPATH=DIR: the figures before a change, on the same machine, same command.

Besides the wall time, the CPU time all of golive's processes spent until the line (read from /proc
as it is printed, children they waited for included): on a busy machine it moves far less than the
wall time, and with N cores the wall time cannot be under CPU / N.

    .venv/bin/python bench/stack_startup.py [--runs 5] [--replicas 1] [--providers local,docker]
                                            [--tree DIR]

The cluster cache is a temp dir of this command's (built by a warm-up run), not the user's. With
several providers (the docker one needs GOLIVE_*_IMAGE, see the README), each is also given as a
ratio of the local one.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from figures import Figure, table

from golive.fixtures.providers import ProviderError, create_provider
from golive.fixtures.upstream.control import UpstreamServer

NAME = "stack_startup"


@dataclass(frozen=True)
class Variant:
    label: str
    provider: str = "local"
    env: Mapping[str, str] = field(default_factory=dict)
    tree: Path | None = None  # another checkout of golive, run from there


@dataclass
class Runs:
    up: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)

    def stage(self, name: str) -> float | None:
        values = [stages[name] for stages in self.stages if name in stages]
        return statistics.median(values) if values else None


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its descendants so far, with the children each has waited for."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry))
        times[int(entry)] = sum(int(value) for value in fields[11:15]) / ticks
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += times.get(pid, 0.0)
        pending += children.get(pid, [])
    return total


class UpFailed(RuntimeError):
    """golive up printed no line; the message is why (its `golive up:` line on stderr, else its last)."""


def golive_up(replicas: int, variant: Variant) -> tuple[float, float, float, dict[str, float]]:
    env = {**os.environ, **variant.env}
    if variant.tree is not None:
        env["PYTHONPATH"] = str(variant.tree)
    with tempfile.TemporaryDirectory() as run_dir, tempfile.TemporaryFile("w+") as errors:
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
                variant.provider,
                "--run-dir",
                run_dir,
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=variant.tree,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        if not ready or not process.stdout.readline():
            process.kill()
            process.wait()
            errors.seek(0)
            said = [line.strip() for line in errors.read().splitlines() if line.strip()] or ["no output"]
            why = [line for line in said if line.startswith("golive up:")] or said  # its one-line reason
            raise UpFailed(f"golive up ({variant.label}) printed no line: {why[-1]}")
        up = time.perf_counter() - started
        cpu = tree_cpu(process.pid)
        stopping = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait(60)
        down = time.perf_counter() - stopping
        stages = json.loads((Path(run_dir) / "run.json").read_text())["commands"]["up"]["startup_seconds"]
    return up, cpu, down, stages


def bare_app() -> float:
    with tempfile.TemporaryDirectory() as logs:
        started = time.perf_counter()
        server = UpstreamServer(Path(logs)).start()
        elapsed = time.perf_counter() - started
        server.stop()
    return elapsed


def docker_unavailable() -> str | None:
    try:
        create_provider("docker").close()
    except ProviderError as error:
        return str(error)
    return None


PRIMARY = ("golive", "cache off")  # without these, no figure: their failure ends the bench


@dataclass
class Measured:
    results: dict[str, Runs]
    bases: list[float]
    failed: dict[str, str]  # variant -> why it was dropped (another provider that did not start)


def measure(variants: list[Variant], runs: int, replicas: int) -> Measured:
    measured = Measured({variant.label: Runs() for variant in variants}, [], {})
    running = list(variants)

    def once(variant: Variant) -> tuple[float, float, float, dict[str, float]] | None:
        try:
            return golive_up(replicas, variant)
        except UpFailed as error:
            if variant.label in PRIMARY:
                raise
            measured.failed[variant.label] = str(error)
            measured.results.pop(variant.label, None)
            running.remove(variant)
            return None

    for variant in list(running):  # warm-up, not counted: builds the cluster cache, fills the page cache
        once(variant)
    for _ in range(runs):
        measured.bases.append(bare_app())
        for variant in list(running):
            done = once(variant)
            if done is None:
                continue
            up, cpu, down, stages = done
            measured.results[variant.label].up.append(up)
            measured.results[variant.label].cpu.append(cpu)
            measured.results[variant.label].down.append(down)
            measured.results[variant.label].stages.append(stages)
    return measured


def figures_of(measured: Measured, replicas: int, docker_na: str | None) -> list[Figure]:
    results, bases = measured.results, measured.bases
    golive, no_cache = results["golive"], results["cache off"]
    up = statistics.median(golive.up)
    found = [
        Figure(
            f"golive up, {replicas} replica(s): spawn to JSON line, s (baseline: GOLIVE_PG_CACHE=off)",
            statistics.median(no_cache.up),
            up,
        ),
        Figure(
            "  CPU of all its processes until the line, s (baseline: GOLIVE_PG_CACHE=off)",
            statistics.median(no_cache.cpu),
            statistics.median(golive.cpu),
        ),
        Figure(
            "  its Postgres, running and migrated: initdb and alembic (baseline) vs a copy, s",
            no_cache.stage("postgres"),
            golive.stage("postgres"),
        ),
        Figure(
            "  teardown after SIGINT, s (baseline: GOLIVE_PG_CACHE=off)",
            statistics.median(no_cache.down),
            statistics.median(golive.down),
        ),
        Figure("golive up vs one bare uvicorn app answering, s", statistics.median(bases), up),
    ]
    for label, runs in results.items():
        if label.startswith("tree "):
            found.append(Figure(f"golive up, s (baseline: {label})", statistics.median(runs.up), up))
            found.append(
                Figure(
                    f"  CPU of all its processes until the line, s (baseline: {label})",
                    statistics.median(runs.cpu),
                    statistics.median(golive.cpu),
                )
            )
    if "docker" in results:
        docker = statistics.median(results["docker"].up)
        found.append(Figure("golive up --provider docker, s (baseline: local)", up, docker))
    elif docker_na is not None or "docker" in measured.failed:
        reason = docker_na or measured.failed["docker"]
        found.append(Figure.unavailable("golive up --provider docker, s (baseline: local)", reason))
    return found


def variants_for(providers: list[str], tree: Path | None, cache_dir: str) -> list[Variant]:
    cache = {"GOLIVE_CACHE_DIR": cache_dir}
    variants = [
        Variant("golive", env=cache),
        Variant("cache off", env={**cache, "GOLIVE_PG_CACHE": "off"}),
    ]
    if tree is not None:
        variants.append(Variant(f"tree {tree}", env=cache, tree=tree))
    if "docker" in providers:
        variants.append(Variant("docker", provider="docker", env=cache))
    return variants


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: 1 run of each (quick) or 5, 1 replica; the docker provider when it can run."""
    docker_na = docker_unavailable()
    providers = ["local"] if docker_na else ["local", "docker"]
    with tempfile.TemporaryDirectory(prefix="golive-bench-cache-") as cache_dir:
        measured = measure(variants_for(providers, None, cache_dir), 1 if quick else 5, 1)
    return figures_of(measured, 1, docker_na)


def listing(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--providers", default="local", help="comma-separated: local,docker")
    parser.add_argument("--tree", type=Path, help="another checkout of golive to compare with")
    args = parser.parse_args()
    providers = args.providers.split(",")
    docker_na = docker_unavailable() if "docker" in providers else None
    if docker_na:
        providers.remove("docker")
    tree = args.tree.resolve() if args.tree else None
    with tempfile.TemporaryDirectory(prefix="golive-bench-cache-") as cache_dir:
        measured = measure(variants_for(providers, tree, cache_dir), args.runs, args.replicas)
    results, bases = measured.results, measured.bases
    print(f"machine: {os.cpu_count()} cores; runs: {args.runs}; replicas: {args.replicas}")
    base = statistics.median(bases)
    print(f"baseline, one bare uvicorn app:  median {base:.2f} s  (runs: {listing(bases)})")
    for label, runs in results.items():
        tag = f"[{label}]"
        up = statistics.median(runs.up)
        print(f"{tag} golive up --json, spawn to line: median {up:.2f} s  (runs: {listing(runs.up)})")
        cpu = statistics.median(runs.cpu)
        print(f"{tag} CPU of its processes until the line: median {cpu:.2f} s  (runs: {listing(runs.cpu)})")
        print(f"{tag} teardown after SIGINT: median {statistics.median(runs.down):.2f} s")
        for name in runs.stages[0]:
            print(f"{tag}   {name:<18} median {runs.stage(name) or 0:.2f} s")
    for label, reason in measured.failed.items():
        print(f"[{label}] dropped: {reason}")
    print()
    print(table([(NAME, figure) for figure in figures_of(measured, args.replicas, docker_na)]))


if __name__ == "__main__":
    main()
