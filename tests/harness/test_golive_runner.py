"""The tests' own way of running golive (tests/harness/golive.py) leaves nothing behind when a
test gives up on a golive (its timeout, Ctrl-C, the session ending): the golive is asked to stop,
as an operator would, and tears its stack down, temp dirs in memory included."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from golive.fixtures.providers.local.scratch import scratch_dirs
from tests.harness.golive import run_golive
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
