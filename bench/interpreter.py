"""What the interpreter's build costs golive: `golive validate --quick` run by this virtualenv's
Python and by another's (--baseline: a virtualenv with golive installed, made from another build),
runs interleaved (drift on the machine hits both alike). Each run must end GO.

The figure is the CPU time the whole machine spent during the run (every process a validation
starts: the suites' pytest, the backend's replicas, Postgres, Locust), so run it on a quiet machine;
and the wall time beside it. scripts/bootstrap.sh prefers the distribution's CPython (built with
profile-guided and link-time optimisation) over a build without them, such as pyenv's default:

    PYTHON=/root/.pyenv/versions/3.11.7/bin/python3 python3 -m venv /tmp/other
    /tmp/other/bin/pip install -e '.[dev]'
    .venv/bin/python bench/interpreter.py --baseline /tmp/other/bin/python [--runs 2]

bench/run.py takes the baseline from $GOLIVE_BENCH_BASELINE_PYTHON (without it, the row is n/a).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, table
from suite_idle import busy_and_total

NAME = "interpreter"
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1800  # seconds: a validation that takes longer is stuck, not slow
BASELINE_VARIABLE = "GOLIVE_BENCH_BASELINE_PYTHON"


def busy_seconds() -> float:
    """The machine's busy CPU time so far, every core (suite_idle's reading of /proc/stat)."""
    return busy_and_total()[0] / os.sysconf("SC_CLK_TCK")


def validation(python: str) -> tuple[float, float]:
    """(wall seconds, the machine's busy CPU-s) of one `golive validate --quick` run by `python`."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="golive-bench-interpreter-") as folder:
        started, busy = time.monotonic(), busy_seconds()
        done = subprocess.run(
            [python, "-m", "golive", "validate", "--quick", "--run-dir", str(Path(folder) / "run")],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=TIMEOUT,
        )  # fmt: skip
        elapsed, spent = time.monotonic() - started, busy_seconds() - busy
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["(no output)"]
        sys.exit(f"interpreter: {python}: validate --quick exited with {done.returncode}: {last[0]}")
    return elapsed, spent


def figures(quick: bool = False, runs: int = 2, baseline: str | None = None) -> list[Figure]:
    """For bench/run.py: n/a without a baseline interpreter (it needs a second virtualenv)."""
    baseline = baseline or os.environ.get(BASELINE_VARIABLE)
    names = ("validate --quick, machine CPU-s", "validate --quick, wall s")
    if baseline is None:
        reason = f"needs ${BASELINE_VARIABLE}: another build's virtualenv Python, golive installed"
        return [Figure.unavailable(f"{name} (baseline: another interpreter)", reason) for name in names]
    ours: list[tuple[float, float]] = []  # (wall, CPU) of each run
    theirs: list[tuple[float, float]] = []
    for _ in range(1 if quick else runs):
        theirs.append(validation(baseline))
        ours.append(validation(sys.executable))
    label = f"(baseline: {baseline}; golive: {sys.executable})"
    return [
        Figure(
            f"{name} {label}",
            statistics.median(run[i] for run in theirs),
            statistics.median(run[i] for run in ours),
        )
        for name, i in ((names[0], 1), (names[1], 0))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline",
        default=os.environ.get(BASELINE_VARIABLE),
        required=BASELINE_VARIABLE not in os.environ,
        help=f"another virtualenv's python, golive installed in it (default: ${BASELINE_VARIABLE})",
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each, interleaved; the median counts")
    arguments = parser.parse_args()
    print(table([(NAME, figure) for figure in figures(runs=arguments.runs, baseline=arguments.baseline)]))


if __name__ == "__main__":
    main()
