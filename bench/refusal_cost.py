"""What a golive command refused for its arguments costs: the CPU time of the whole process (best of
--runs), against `golive version` measured in the same run (the interpreter and the CLI alone).
The suite runs such refusals by the dozen, and an operator's typo waits on one: a refusal that
imports the stack, its clients or a stage's code before checking its input costs two to four times
the baseline.

    .venv/bin/python bench/refusal_cost.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

from figures import Figure, table

NAME = "refusal_cost"
ROOT = Path(__file__).resolve().parents[1]
BASELINE = ("version",)
# Each refused before anything starts (exit 2, or 1 for a report that is not there).
REFUSALS = (
    ("up", "--provider", "nope"),
    ("validate", "--gate", "nope"),
    ("drill", "nope"),
    ("load", "--profile", "nope"),
    ("chaos", "run", "nope"),
    ("report", "/nonexistent"),
)
ALSO = (("clean", "--dry-run"),)  # not a refusal: it lists what killed runs left; nothing starts


def cpu_of(argv: tuple[str, ...], runs: int) -> float:
    """The least CPU-s (user and system) of `runs` runs of `golive ARGV`, children included."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    least = float("inf")
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [sys.executable, "-m", "golive", *argv]
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=False, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        least = min(least, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return least


def figures(quick: bool = False, runs: int = 3) -> list[Figure]:
    """For bench/run.py: one run of each (quick) or the best of `runs`."""
    runs = 1 if quick else runs
    baseline = cpu_of(BASELINE, runs)
    return [
        Figure(f"golive {' '.join(argv)}, CPU-s (baseline: golive version)", baseline, cpu_of(argv, runs))
        for argv in (*REFUSALS, *ALSO)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the least CPU counts")
    arguments = parser.parse_args()
    print(table([(NAME, figure) for figure in figures(runs=arguments.runs)]))


if __name__ == "__main__":
    main()
