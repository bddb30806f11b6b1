"""`golive load` refuses what it cannot run, before starting anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.harness.golive import run_golive

RECORDED = Path(__file__).resolve().parents[1] / "reports" / "runs" / "go" / "load"


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
        (
            ["--baseline", "/no-such-run"],
            "--baseline: /no-such-run: no load.json there, nor in /no-such-run/load",
        ),
        (
            ["--baseline", str(RECORDED / "timeline.json")],
            "timeline.json: not the load evidence golive writes: run_id: Field required",
        ),
    ],
)
def test_what_cannot_run_is_refused_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    run = golive_load(*args, "--run-dir", str(tmp_path))
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "load").exists()


def test_validate_refuses_a_baseline_that_is_no_load_run_before_starting(tmp_path: Path) -> None:
    run = run_golive("validate", "--baseline", str(tmp_path / "nothing"), "--run-dir", str(tmp_path / "run"))
    assert run.returncode == 2, run.stderr
    assert "--baseline: " in run.stderr
    assert "no load.json there" in run.stderr
    assert not (tmp_path / "run").exists()
