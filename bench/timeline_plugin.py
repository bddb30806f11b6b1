"""A pytest plugin for bench/suite_idle.py: each test's start and end, on which worker, appended as
one JSON line to the file $GOLIVE_BENCH_TIMELINE names (every xdist worker to the same file; a
line is one write, under the pipe-buffer size, so lines do not interleave)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator

import pytest

TIMELINE_VARIABLE = "GOLIVE_BENCH_TIMELINE"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    started = time.time()
    yield
    path = os.environ.get(TIMELINE_VARIABLE)
    if path:
        line = {
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "test": item.nodeid,
            "start": started,
            "end": time.time(),
        }
        with open(path, "a", encoding="utf-8") as timeline:
            timeline.write(json.dumps(line) + "\n")
