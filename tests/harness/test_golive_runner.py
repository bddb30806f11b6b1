"""The tests' own way of running golive (tests/harness/golive.py) leaves nothing behind when a
test gives up on a golive (its timeout, Ctrl-C, the session ending): the golive is asked to stop,
as an operator would, and tears its stack down, temp dirs in memory included. A golive that does
not stop when asked fails its test naming what of it was still running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from golive.fixtures.providers.local.scratch import scratch_dirs
from tests.harness.golive import run_golive, stop
from tests.harness.leaks import assert_no_survivors, new_marker


def test_a_golive_the_test_gives_up_on_tears_its_stack_down(tmp_path: Path) -> None:
    marker = new_marker()
    run = tmp_path / "run"
    # `golive up` serves until it is stopped: the timeout ends it, its stack up by then.
    with pytest.raises(subprocess.TimeoutExpired):
        run_golive("up", "--run-dir", str(run), env=marker, timeout=15)
    record = json.loads((run / "run.json").read_text())["commands"]["up"]
    assert "finished_at" in record, record  # it ended itself: killed outright, it would not say
    assert not [scratch.path for scratch in scratch_dirs() if scratch.belongs_to(run)]
    assert_no_survivors(marker)


def test_a_golive_that_does_not_stop_fails_the_test_naming_what_was_still_running() -> None:
    # A stand-in that ignores SIGINT, with a child of its own: what a stuck teardown looks like.
    program = (
        "import signal, subprocess, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "child = subprocess.Popen(['sleep', '301'], stdout=subprocess.DEVNULL); "
        "print(child.pid, flush=True); time.sleep(300)"
    )
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    child = int(process.stdout.readline())
    try:
        with pytest.raises(AssertionError) as failure:
            stop(process, signal.SIGINT, within=1)
        said = str(failure.value)
        assert said.startswith("golive did not stop within 1 s of SIGINT; running then:\n")
        assert f"{child}: sleep 301" in said
        assert process.poll() is not None  # ended after all
    finally:
        os.kill(child, signal.SIGKILL)
