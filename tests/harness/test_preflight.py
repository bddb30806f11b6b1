"""Inputs checked before anything starts, and settings golive replaces said out loud."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from golive.chaos.experiment import library
from golive.core import http_clients
from tests.harness.golive import first_line, run_golive, spawn_up, stop
from tests.harness.leaks import assert_no_survivors, new_marker


def test_a_chaos_experiment_on_an_unknown_proxy_is_refused_before_the_stack_starts(tmp_path: Path) -> None:
    experiment = tmp_path / "mysql-down.yaml"
    text = (library()[0].parent / "redis-down.yaml").read_text()
    experiment.write_text(text.replace("fault: {proxy: redis,", "fault: {proxy: mysql,"))
    done = run_golive("chaos", "run", str(experiment), "--run-dir", str(tmp_path / "run"), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "golive chaos run: chaos experiment mysql-down: no proxy 'mysql' "
        "(the stack's proxies: postgres, redis, upstream, pusher)"
    )
    assert not (tmp_path / "run").exists()


def test_a_chaos_experiment_whose_backend_settings_are_bad_is_refused_at_once(tmp_path: Path) -> None:
    experiment = tmp_path / "bad-backend.yaml"
    text = (library()[0].parent / "redis-down.yaml").read_text()
    experiment.write_text(
        text.replace("CIRCUIT_BREAKER_FAILURE_THRESHOLD: 3", "CIRCUIT_BREAKER_FAILURE_THRESHOLD: -3")
    )
    done = run_golive("chaos", "run", str(experiment), "--run-dir", str(tmp_path / "run"), timeout=60)
    assert done.returncode == 2
    assert "chaos experiment bad-backend: backend: CIRCUIT_BREAKER_FAILURE_THRESHOLD:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "command",
    [["validate", "--quick"], ["load", "--profile", "smoke"], ["drill", "migration"], ["up"]],
    ids=lambda command: command[0],
)
def test_every_command_that_starts_a_backend_refuses_bad_settings_before_anything(
    tmp_path: Path, command: list[str]
) -> None:
    done = run_golive(
        *command, "--run-dir", str(tmp_path / "run"), env={"RATE_LIMIT_BURST_SIZE": "many"}, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith(
        f"golive {command[0]}: RATE_LIMIT_BURST_SIZE: Input should be a valid integer"
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_each_variable_the_stack_replaces_is_named(tmp_path: Path) -> None:
    marker = new_marker()
    env = {"DATABASE_URL": "garbage", "REDIS_URL": "redis://elsewhere:1/0", "CORRELATION_ID_HEADER": "X-Corr"}
    process = spawn_up(tmp_path / "run", marker, env=env)
    try:
        stack = first_line(process)
        # The stack's own services are used, the guide's other variables still reach the backend.
        response = http_clients.get(f"{stack['sut']}/health", headers={"X-Corr": "c-1"}, timeout=30)
        assert response.json()["data"]["status"] == "healthy"
        assert response.headers["x-corr"] == "c-1"
    finally:
        stop(process, signal.SIGINT)
    assert process.stderr is not None
    lines = [
        line
        for line in process.stderr.read().splitlines()
        if "is set in the environment but not used" in line
    ]
    said = "is set in the environment but not used: the stack sets it to reach its own services"
    assert lines == [f"golive up: {name} {said}" for name in ("DATABASE_URL", "REDIS_URL")]
    assert_no_survivors(marker)
