"""scripts/check-wheel.sh's phases, as CI calls them (`install DIR` beside other steps, `check
DIR` later): a wrong call is one line, and checking before installing names the command to run.
The whole script runs in CI's wheel step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-wheel.sh"
USAGE = f"check-wheel: usage: {SCRIPT} [install DIR | check DIR]"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("args", [["bogus"], ["install"], ["check"], ["check", "a", "b"]])
def test_a_wrong_call_is_the_usage_line(args: list[str]) -> None:
    done = run(*args)
    assert done.returncode == 1
    assert done.stderr.strip() == USAGE
    assert done.stdout == ""


def test_checking_a_directory_nothing_was_installed_in_names_the_install(tmp_path: Path) -> None:
    done = run("check", str(tmp_path / "wheel"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"check-wheel: nothing installed in {tmp_path / 'wheel'}: "
        f"run {SCRIPT} install {tmp_path / 'wheel'} first"
    )
    assert not (tmp_path / "wheel").exists()
