"""golive killed outright (SIGKILL: none of its own teardown runs): the kernel ends every child
with it, the report of the run says it was cut short, and `golive clean` removes what it left
on disk and closes its run.json."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.fixtures.network import wait_until
from golive.fixtures.providers.local.scratch import scratch_dirs
from tests.harness.golive import GOLIVE, first_line, run_golive, spawn_up, stop
from tests.harness.leaks import assert_no_survivors, marked_processes, new_marker

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/golive-no-engine.sock"}


def suite_process(marker: dict[str, str]) -> int | None:
    """The pytest that `golive validate` runs a suite in, once it runs."""
    for pid in marked_processes(marker):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pytest" in argv and any(arg.startswith(b"--golive-stack-file=") for arg in argv):
            return pid
    return None


def test_a_killed_validate_takes_its_suite_run_with_it_and_reports_incomplete(tmp_path: Path) -> None:
    marker = new_marker()
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [*GOLIVE, "validate", "--quick", "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **marker},
    )
    try:
        wait_until(lambda: suite_process(marker), timeout=180, what="the first suite's pytest")
    finally:
        process.kill()
        process.wait(30)
    assert_no_survivors(marker)
    # Killed with golive, the suite's pytest never got to write its results against a dead stack.
    assert not (run_dir / "junit-contract.xml").exists()
    report = run_golive("report", str(run_dir), timeout=120)
    assert report.returncode == 3  # INCOMPLETE: not a NO-GO
    assert "INCOMPLETE" in report.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["reasons"][0] == "golive validate was killed before it finished (its stack died with it)"
    for scratch in scratch_dirs():  # what the kill left (`golive clean`'s test is the other one)
        if scratch.belongs_to(run_dir):
            shutil.rmtree(scratch.path)


@pytest.fixture
def private_temp(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A temp dir and a memory dir for the stacks' scratch dirs where no other test's `golive
    clean` looks (another worker's would remove a killed run's dirs before this test's could):
    the environment that says so, in force in this process too."""
    root = Path(tempfile.mkdtemp(prefix="golive-test-private-"))
    root.chmod(0o755)  # Postgres may run as another user: it must reach its data dir
    private = {"TMPDIR": str(root / "tmp"), "GOLIVE_PG_MEMORY": str(root / "memory")}
    for directory in private.values():
        Path(directory).mkdir()
        Path(directory).chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", private["TMPDIR"])
    monkeypatch.setenv("GOLIVE_PG_MEMORY", private["GOLIVE_PG_MEMORY"])
    try:
        yield private
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_clean_removes_what_a_killed_up_left_and_marks_its_run(
    tmp_path: Path, private_temp: dict[str, str]
) -> None:
    env = {**NO_ENGINE, **private_temp}
    marker = new_marker()
    run_dir = tmp_path / "run"
    process = spawn_up(run_dir, marker, env=env)
    try:
        first_line(process)
        left = [found.path for found in scratch_dirs() if found.belongs_to(run_dir)]
        assert {path.name.split("-")[1] for path in left} == {"pg", "redis"}
        # Another run still going: clean must not touch its dirs.
        alive = run_golive("clean", "--dry-run", env=env, timeout=60)
        assert not any(str(path) in alive.stderr for path in left)
    finally:
        process.kill()
        process.wait(30)
    assert_no_survivors(marker)
    assert all(path.is_dir() for path in left)
    assert "finished_at" not in json.loads((run_dir / "run.json").read_text())["commands"]["up"]

    dry = run_golive("clean", "--dry-run", env=env, timeout=60)
    assert all(f"would remove {path}" in dry.stderr for path in left)
    assert all(path.is_dir() for path in left)

    done = run_golive("clean", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(f"removed {path}" in done.stderr for path in left)
    assert not any(path.exists() for path in left)
    entry = json.loads((run_dir / "run.json").read_text())["commands"]["up"]
    assert entry["killed"] is True
    assert entry["finished_at"].endswith("Z")


def test_sighup_stops_up_like_sigterm(tmp_path: Path) -> None:
    marker = new_marker()
    process = spawn_up(tmp_path / "run", marker)
    try:
        first_line(process)
        left = [scratch.path for scratch in scratch_dirs() if scratch.belongs_to(tmp_path / "run")]
        assert left
    finally:
        stop(process, signal.SIGHUP)
    assert process.returncode == 0
    assert_no_survivors(marker)
    assert not any(path.exists() for path in left)
    entry = json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["up"]
    assert entry["outcome"] == "stopped"
