"""`golive load` refuses what it cannot run, before starting anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.harness.golive import run_golive


def golive_load(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_golive("load", *args, env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "huge"], "no profile 'huge' (there are: smoke, baseline, stress, soak)"),
        (["--run-time", "soon"], "--run-time: 'soon' is not a duration"),
        (["--during", "no-such-experiment"], "--during: "),
        (
            ["--during", "redis-down", "--target", "http://127.0.0.1:9"],
            "--during injects faults through the local stack's proxy: not with --target",
        ),
        (["--target", "ftp://example"], "--target: 'ftp://example' is not an http(s) URL"),
    ],
)
def test_what_cannot_run_is_refused_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    run = golive_load(*args, "--run-dir", str(tmp_path))
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "load").exists()
