"""`golive chaos` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.harness.golive import run_golive

GOLIVE = [sys.executable, "-m", "golive", "chaos"]


def test_list_shows_the_library() -> None:
    result = subprocess.run([*GOLIVE, "list"], capture_output=True, text=True, timeout=60, check=True)
    assert "redis-down" in result.stdout
    assert "fast" in result.stdout


def test_run_writes_a_journal_and_exits_0_when_the_hypothesis_held(tmp_path: Path) -> None:
    result = run_golive("chaos", "run", "redis-down", "--seed", "4", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "HELD: 1 of 1 runs held" in result.stderr
    journal = json.loads((tmp_path / "run" / "chaos" / "redis-down-1.json").read_text())
    assert journal["outcome"] == "held"
    assert journal["seed"] == 4
    assert json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["chaos"]["exit_code"] == 0


def test_unknown_experiments_and_bad_files_are_clear_errors(tmp_path: Path) -> None:
    unknown = subprocess.run(
        [*GOLIVE, "run", "meltdown"], capture_output=True, text=True, timeout=60, check=False
    )
    assert unknown.returncode == 2
    assert "meltdown: no such experiment" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nsteady_state: []\nmethod: []\n")
    invalid = subprocess.run(
        [*GOLIVE, "run", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert invalid.returncode == 2
    assert f"{bad}: steady_state: List should have at least 1 item" in " ".join(invalid.stderr.split())
    assert "Traceback" not in invalid.stderr
