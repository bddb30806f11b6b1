"""The docker provider's commands where no engine answers: one line that says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.golive import run_golive

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [["up", "--provider", "docker"], ["clean"], ["images", "build"], ["images", "list"]],
    ids=lambda args: " ".join(args),
)
def test_no_engine_is_a_clear_error(args: list[str], tmp_path: Path) -> None:
    socket = tmp_path / "no-engine.sock"
    done = run_golive(*args, env={"DOCKER_HOST": f"unix://{socket}"}, timeout=60)
    # clean still did its other work (temp dirs of killed runs); without an engine, no container exists.
    assert done.returncode == (0 if args == ["clean"] else 1)
    assert f"no Docker engine at unix://{socket}" in done.stderr
    assert "start dockerd, or set DOCKER_HOST" in done.stderr
    assert "Traceback" not in done.stderr


def test_pytest_with_the_docker_provider_and_no_engine_stops_at_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--golive-provider",
            "docker",
            "-p",
            "no:randomly",
            "suites/api/test_health.py",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"},
        cwd=ROOT,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "--provider docker: no Docker engine at" in done.stdout + done.stderr


def test_bad_settings_are_named() -> None:
    done = run_golive("up", "--provider", "docker", env={"GOLIVE_DOCKER_START_TIMEOUT": "soon"}, timeout=60)
    assert done.returncode == 1
    assert "GOLIVE_DOCKER_START_TIMEOUT: Input should be a valid number" in done.stderr
    assert "Traceback" not in done.stderr
