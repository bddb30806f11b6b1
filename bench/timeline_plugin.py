"""A pytest plugin for bench/suite_idle.py: each test's start and end, on which worker, and the CPU
time its worker's process tree spent meanwhile, appended as one JSON line to the file
$GOLIVE_BENCH_TIMELINE names (every xdist worker to the same file; a line is one write, under the
pipe-buffer size, so lines do not interleave).

The tree's CPU time is the worker's own and that of every process under it (the stacks' servers,
the forked replicas, the golive commands a test runs), counting those that ended and were waited
for in their parents' children's times: each CPU-second is counted once, in the test during which
it was spent. Servers a session's stack shares are charged to the tests that keep them busy.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator

import psutil
import pytest

TIMELINE_VARIABLE = "GOLIVE_BENCH_TIMELINE"


def tree_cpu_seconds(root: psutil.Process) -> float:
    """CPU-s spent so far by `root` and every process under it, ended ones included once waited."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended between the listing and the reading: its parent counts it
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    path = os.environ.get(TIMELINE_VARIABLE)
    worker = psutil.Process()
    started, cpu_before = time.time(), tree_cpu_seconds(worker) if path else 0.0
    yield
    if path:
        line = {
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "test": item.nodeid,
            "start": started,
            "end": time.time(),
            "cpu": tree_cpu_seconds(worker) - cpu_before,
        }
        with open(path, "a", encoding="utf-8") as timeline:
            timeline.write(json.dumps(line) + "\n")
