"""How long `golive validate` takes from start to verdict, against baselines measured in the same
command, runs interleaved (drift on the machine hits all alike):

- the same golive with `--lanes 1`: every stage after another on one stack, what the lanes save;
- with --tree DIR, another checkout of golive (`git archive REV | tar -x -C DIR`) run with
  PYTHONPATH=DIR: the figure before a change, on the same machine, same command.

Each run must end GO (exit 0): a run that does not is no figure, and the bench stops with its
last line. Besides the wall time, the CPU time of every process the run waited for: on a busy
machine it moves far less than the wall time.

    .venv/bin/python bench/validate_duration.py [--runs 3] [--full] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from figures import Figure, table

NAME = "validate_duration"
TIMEOUT = 1800  # seconds: a validation that takes longer is stuck, not slow


@dataclass(frozen=True)
class Variant:
    label: str
    options: tuple[str, ...] = ()
    tree: Path | None = None  # another checkout of golive, run from there


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


class ValidationFailed(RuntimeError):
    """The run did not end GO; the message is its last line."""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def validate(variant: Variant, full: bool) -> tuple[float, float]:
    env = {**os.environ}
    if variant.tree is not None:
        env["PYTHONPATH"] = str(variant.tree)
    mode = () if full else ("--quick",)
    with tempfile.TemporaryDirectory(prefix="golive-bench-validate-") as run_dir:
        argv = [sys.executable, "-m", "golive", "validate", *mode, *variant.options, "--run-dir", run_dir]
        cpu, started = children_cpu(), time.perf_counter()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, env=env, cwd=variant.tree, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise ValidationFailed(f"golive validate ({variant.label}) did not end in {TIMEOUT} s") from None
        wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != 0:
        said = [line.strip() for line in done.stderr.splitlines() if line.strip()] or ["no output"]
        raise ValidationFailed(f"golive validate ({variant.label}) exited {done.returncode}: {said[-1]}")
    return wall, cpu


def measure(variants: list[Variant], runs: int, full: bool) -> dict[str, Runs]:
    results = {variant.label: Runs() for variant in variants}
    for _ in range(runs):
        for variant in variants:
            wall, cpu = validate(variant, full)
            results[variant.label].wall.append(wall)
            results[variant.label].cpu.append(cpu)
    return results


def figures_of(results: dict[str, Runs], full: bool) -> list[Figure]:
    command = "golive validate" if full else "golive validate --quick"
    golive = results["golive"]
    found = []
    for label, runs in results.items():
        if label == "golive":
            continue
        found.append(
            Figure(
                f"{command}, s (baseline: {label})",
                statistics.median(runs.wall),
                statistics.median(golive.wall),
            )
        )
        found.append(
            Figure(
                f"  CPU of the processes it waited for, s (baseline: {label})",
                statistics.median(runs.cpu),
                statistics.median(golive.cpu),
            )
        )
    return found


def variants_for(tree: Path | None) -> list[Variant]:
    variants = [Variant("golive"), Variant("--lanes 1", options=("--lanes", "1"))]
    if tree is not None:
        variants.append(Variant(f"tree {tree}", tree=tree))
    return variants


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: the quick validation, 1 run of each (quick) or 3."""
    return figures_of(measure(variants_for(None), 1 if quick else 3, full=False), full=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="the full validation instead of --quick")
    parser.add_argument("--tree", type=Path, help="another checkout of golive to compare with")
    args = parser.parse_args()
    tree = args.tree.resolve() if args.tree else None
    try:
        results = measure(variants_for(tree), args.runs, args.full)
    except ValidationFailed as error:
        sys.exit(f"validate_duration: {error}")
    print(f"machine: {os.cpu_count()} cores; runs: {args.runs}; {'full' if args.full else 'quick'}")
    for label, runs in results.items():
        walls = ", ".join(f"{value:.1f}" for value in runs.wall)
        cpus = ", ".join(f"{value:.1f}" for value in runs.cpu)
        print(f"[{label}] median {statistics.median(runs.wall):.1f} s (runs: {walls}); CPU (runs: {cpus})")
    print()
    print(table([(NAME, figure) for figure in figures_of(results, args.full)]))


if __name__ == "__main__":
    main()
