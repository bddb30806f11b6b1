from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.rundir import RunDir, RunDirError, new_run_id


def test_run_ids_sort_by_time_and_name_the_command() -> None:
    run_id = new_run_id("validate", datetime(2026, 11, 28, 4, 44, 16, tzinfo=UTC))
    assert re.fullmatch(r"20261128T044416Z-validate-[0-9a-f]{4}", run_id)


def test_a_new_run_dir_describes_itself(tmp_path: Path) -> None:
    run = RunDir.create("up", base=tmp_path)
    assert run.path.parent == tmp_path
    run.finish(0, outcome="stopped")
    entry = json.loads((run.path / "run.json").read_text())["commands"]["up"]
    assert entry["exit_code"] == 0
    assert entry["outcome"] == "stopped"
    assert entry["started_at"].endswith("Z")
    assert entry["finished_at"].endswith("Z")


def test_commands_share_an_explicit_run_dir(tmp_path: Path) -> None:
    first = RunDir.create("validate", tmp_path / "shared")
    second = RunDir.create("load", tmp_path / "shared")
    first.finish(0)
    second.finish(1)
    commands = json.loads((tmp_path / "shared" / "run.json").read_text())["commands"]
    assert commands["validate"]["exit_code"] == 0
    assert commands["load"]["exit_code"] == 1


def test_a_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir.create("up", tmp_path / "taken")
