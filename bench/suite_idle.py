"""Where the default suite leaves the machine's cores idle: the README's test command run once
while the machine's CPU use is sampled each second and each test's start and end is recorded
(bench/timeline_plugin.py), then

- the figure: the suite's wall time against its packing floor, measured in the same run (the CPU
  time the whole machine spent meanwhile, divided by its cores: what the suite would take if no
  core were ever idle; the ratio says how far the workers' packing is from it);
- the idle windows: stretches of at least --window seconds in which less than --busy of the cores
  were used, each with the test modules its workers were running then. Tests that wait (a load
  run's fixed duration, a breaker's open time, a chaos experiment's fault) leave cores idle when
  they run together: these say which ones do;
- the CPU time by test module, and the costliest tests, most first (--top of each): the CPU a
  test's worker and the processes under it spent while it ran (bench/timeline_plugin.py says how
  it is counted). Once the cores are never idle, the suite is as fast as its CPU time is small:
  these say where it goes. --timeline FILE keeps every test's line (JSON) for a closer look.

    .venv/bin/python bench/suite_idle.py [--window 10] [--busy 0.8] [--top 20] [--timeline FILE]
        [-- PYTEST-ARGS...]

The machine should be quiet: every process counts (the floor is the machine's, not the suite's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from figures import Figure, table
from timeline_plugin import TIMELINE_VARIABLE

from golive.fixtures.processes import ChildProcess

NAME = "suite_idle"
BENCH_DIR = Path(__file__).resolve().parent
TIMEOUT = 3600  # seconds: a suite that takes longer is stuck, not slow
TIMELINE = "timeline.jsonl"


@dataclass(frozen=True)
class Sample:
    at: float  # time.time() at the end of the second it covers
    cores_busy: float


@dataclass(frozen=True)
class Interval:
    worker: str
    test: str  # its node id
    start: float
    end: float
    cpu: float  # CPU-s of the worker's process tree while the test ran

    @property
    def module(self) -> str:
        return self.test.split("::")[0]


def busy_and_total() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (/proc/stat: idle and iowait are not busy)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


class Sampler(threading.Thread):
    """The cores in use, each second, until stopped."""

    def __init__(self) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        cores = os.cpu_count() or 1
        busy, total = busy_and_total()
        while not self._stop_event.wait(1.0):
            now_busy, now_total = busy_and_total()
            share = (now_busy - busy) / max(1, now_total - total)
            self.samples.append(Sample(time.time(), share * cores))
            busy, total = now_busy, now_total

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def run_suite(pytest_args: list[str], scratch: Path) -> tuple[float, list[Sample], int]:
    """The suite in a process group of its own (golive's ChildProcess), stopped as Ctrl-C stops
    it when the bench ends early (timed out or interrupted): none of its workers or stacks stays."""
    env = {**os.environ, TIMELINE_VARIABLE: str(scratch / TIMELINE)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "timeline_plugin", *pytest_args]
    suite = ChildProcess("pytest", argv, log_path=scratch / "pytest.log", env=env)
    sampler = Sampler()
    sampler.start()
    started = time.perf_counter()
    try:
        code = suite.start().wait_for(TIMEOUT)
    finally:
        suite.stop(timeout=60, signum=signal.SIGINT)
        sampler.stop()
    if code is None:
        sys.exit(f"{NAME}: the suite did not end in {TIMEOUT} s")
    wall = time.perf_counter() - started
    print(f"pytest exited {code}: {suite.log_tail(1) or 'no output'}")
    return wall, sampler.samples, code


def read_intervals(timeline: Path) -> list[Interval]:
    intervals = []
    for line in timeline.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        intervals.append(Interval(entry["worker"], entry["test"], entry["start"], entry["end"], entry["cpu"]))
    return intervals


def idle_windows(samples: list[Sample], busy: float, window: float) -> list[tuple[float, float, float]]:
    """(start, end, average cores busy) of each stretch of at least `window` seconds under `busy`."""
    threshold = busy * (os.cpu_count() or 1)
    found: list[tuple[float, float, float]] = []
    run: list[Sample] = []
    for sample in [*samples, Sample(float("inf"), float("inf"))]:
        if sample.cores_busy < threshold:
            run.append(sample)
            continue
        if len(run) >= window:
            found.append((run[0].at - 1, run[-1].at, sum(s.cores_busy for s in run) / len(run)))
        run = []
    return found


def running(intervals: list[Interval], start: float, end: float) -> list[tuple[str, float]]:
    """Seconds each test module ran within [start, end], all workers together, most first."""
    seconds: dict[str, float] = {}
    for interval in intervals:
        overlap = min(end, interval.end) - max(start, interval.start)
        if overlap > 0:
            seconds[interval.module] = seconds.get(interval.module, 0.0) + overlap
    return sorted(seconds.items(), key=lambda item: -item[1])


def cpu_by_module(intervals: list[Interval]) -> list[tuple[str, float, float]]:
    """(module, CPU-s, wall s) of each test module, the most CPU first."""
    totals: dict[str, tuple[float, float]] = {}
    for interval in intervals:
        cpu, wall = totals.get(interval.module, (0.0, 0.0))
        totals[interval.module] = (cpu + interval.cpu, wall + interval.end - interval.start)
    return sorted(((module, cpu, wall) for module, (cpu, wall) in totals.items()), key=lambda row: -row[1])


def cpu_line(name: str, cpu: float, wall: float, in_tests: float) -> str:
    return f"{cpu:7.1f} CPU-s {100 * cpu / max(in_tests, 1):5.1f} %  {wall:6.1f} s  {name}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--window", type=float, default=10, help="shortest idle stretch listed, s")
    parser.add_argument(
        "--busy", type=float, default=0.8, help="share of the cores under which a second is idle"
    )
    parser.add_argument("--top", type=int, default=20, help="test modules, and tests, listed by CPU time")
    parser.add_argument("--timeline", type=Path, help="keep each test's line (JSON) in this file")
    parser.add_argument("pytest_args", nargs="*", help="after --: more options for pytest")
    args = parser.parse_args()
    if not Path("/proc/stat").is_file():
        sys.exit(f"{NAME}: needs Linux's /proc/stat")
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="golive-bench-suite-") as scratch:
        (Path(scratch) / TIMELINE).touch()
        try:
            wall, samples, code = run_suite(args.pytest_args, Path(scratch))
        except KeyboardInterrupt:
            sys.exit(f"{NAME}: interrupted; the suite is stopped")
        intervals = read_intervals(Path(scratch) / TIMELINE)
        if args.timeline is not None:
            shutil.copyfile(Path(scratch) / TIMELINE, args.timeline)
    if code != 0:
        sys.exit(f"{NAME}: the suite failed (exit {code}): no figure")
    used = sum(sample.cores_busy for sample in samples)
    idle = cores * len(samples) - used
    print(f"machine: {cores} cores; {len(intervals)} tests; {used:.0f} CPU-s used, {idle:.0f} core-s idle")
    for start, end, average in idle_windows(samples, args.busy, args.window):
        offset = start - samples[0].at + 1
        modules = ", ".join(
            f"{module} {seconds:.0f}s" for module, seconds in running(intervals, start, end)[:6]
        )
        span = f"{offset:5.0f}-{offset + end - start:<5.0f} s"
        print(f"idle {span}: {average:.2f} of {cores} cores busy; running: {modules}")
    by_module = cpu_by_module(intervals)
    in_tests = sum(cpu for _, cpu, _ in by_module)
    print(f"CPU-s in tests: {in_tests:.0f} of {used:.0f} (the rest: start-up, collection, the machine)")
    for module, cpu, module_wall in by_module[: args.top]:
        print(cpu_line(module, cpu, module_wall, in_tests))
    print("the costliest tests:")
    for interval in sorted(intervals, key=lambda interval: -interval.cpu)[: args.top]:
        print(cpu_line(interval.test, interval.cpu, interval.end - interval.start, in_tests))
    suite = f"pytest {' '.join(args.pytest_args)}" if args.pytest_args else "the default suite"
    figure = Figure(
        f"{suite}, s (baseline: the machine's CPU-s over its cores, the packing floor)",
        used / cores,
        wall,
    )
    print(table([(NAME, figure)]))


if __name__ == "__main__":
    main()
