from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from golive.core.rundir import RunDir, RunDirError, RunRecord, new_run_id
from tests.harness.golive import run_golive


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


def test_commands_share_an_explicit_run_dir_one_after_the_other(tmp_path: Path) -> None:
    first = RunDir.create("validate", tmp_path / "shared")
    first.finish(0)
    first.release()
    second = RunDir.create("load", tmp_path / "shared")
    second.finish(1)
    commands = json.loads((tmp_path / "shared" / "run.json").read_text())["commands"]
    assert commands["validate"]["exit_code"] == 0
    assert commands["load"]["exit_code"] == 1


def test_a_verdict_is_never_given_in_a_run_dir_that_holds_an_earlier_one(tmp_path: Path) -> None:
    """A second validate into the same directory would append to the first one's logs (a test
    reading its backend's log would see the earlier run's lines) and judge a mix of evidence."""
    first = RunDir.create("validate", tmp_path / "run", once=True)
    first.finish(0)
    first.release()
    with pytest.raises(RunDirError, match="holds an earlier `golive validate` run"):
        RunDir.create("validate", tmp_path / "run", once=True)
    RunDir.create("load", tmp_path / "run", once=True).release()  # another command's parts may join
    done = run_golive("validate", "--quick", "--run-dir", str(tmp_path / "run"), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"golive validate: {first.path}: holds an earlier `golive validate` run, whose evidence would "
        "mix with this one's; give a new --run-dir"
    )
    assert list(json.loads(first.meta_path.read_text())["commands"]) == ["validate", "load"]


def test_a_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir.create("up", tmp_path / "taken")


def test_a_run_dir_is_its_owners_alone(tmp_path: Path) -> None:
    (tmp_path / "given").mkdir(mode=0o755)
    for run in (RunDir.create("up", base=tmp_path), RunDir.create("up", tmp_path / "given")):
        assert stat.S_IMODE(run.path.stat().st_mode) == 0o700
        run.release()


def test_a_second_command_in_a_run_dir_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    held = RunDir.create("up", tmp_path / "run")
    try:
        done = run_golive("up", "--run-dir", str(tmp_path / "run"), timeout=60)
        with pytest.raises(RunDirError, match="in use by another golive command"):
            RunDir.create("load", tmp_path / "run")
    finally:
        held.release()
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"golive up: {held.path}: in use by another golive command (pid {os.getpid()}); "
        "wait for it to end, or give another --run-dir"
    )
    assert list(json.loads(held.meta_path.read_text())["commands"]) == ["up"]
    assert not (tmp_path / "run" / "logs").exists()


def test_a_command_that_ends_without_finishing_is_still_recorded_as_ended(tmp_path: Path) -> None:
    script = "; ".join(
        [
            "from pathlib import Path",
            "from golive.core.rundir import RunDir",
            "RunDir.create('pytest', Path('run'))",
        ]
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=60)
    entry = json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["pytest"]
    assert entry["finished_at"].endswith("Z")
    assert entry["owner"].split(":")[0].isdigit()


def test_run_json_is_written_and_read_back_by_one_type(tmp_path: Path) -> None:
    run = RunDir.create("validate", tmp_path / "run")
    with pytest.raises(ValidationError, match="verdcit"):  # a field no command writes
        run.record("validate", {"verdcit": "GO"})
    run.finish(1, verdict="NO-GO")
    entry = run.meta().commands["validate"]
    assert (entry.exit_code, entry.verdict, entry.killed) == (1, "NO-GO", False)
    run.release()
    edit = json.loads(run.meta_path.read_text())
    edit["commands"]["validate"]["exit_code"] = "one"
    run.meta_path.write_text(json.dumps(edit))
    with pytest.raises(RunDirError, match=r"run.json: not the run.json golive writes: .*exit_code"):
        RunRecord.read(run.meta_path)
