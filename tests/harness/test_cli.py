"""`golive up` and `golive validate` as a user runs them: real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golive.core import http_clients
from tests.harness.golive import GOLIVE, communicate, first_line, spawn_up, stop
from tests.harness.leaks import assert_gone, assert_no_survivors, listeners, new_marker


def urls_of(stack: dict[str, Any]) -> list[str]:
    postgres = "http://" + stack["postgres"].split("@", 1)[1].split("/", 1)[0]
    redis = "http://" + stack["redis"].split("//", 1)[1].split("/", 1)[0]
    pusher = f"http://{stack['pusher']['host']}:{stack['pusher']['port']}"
    return [*stack["sut_replicas"], stack["upstream"], stack["toxiproxy"], pusher, postgres, redis]


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_up_prints_one_json_line_then_tears_down_on_a_signal(tmp_path: Path, stop_with: int) -> None:
    marker = new_marker()
    process = spawn_up(tmp_path / "run", marker, "--replicas", "2")
    try:
        stack = first_line(process)
        assert {
            "sut",
            "sut_replicas",
            "postgres",
            "redis",
            "upstream",
            "toxiproxy",
            "pusher",
            "run_dir",
            "users",
        } <= set(stack)
        proxies = http_clients.get(f"{stack['toxiproxy']}/proxies", timeout=30).json()
        assert set(proxies) == {"postgres", "redis", "upstream", "pusher"}
        pusher = stack["pusher"]
        assert set(pusher) == {"host", "port", "app_id", "key", "secret"}
        assert pusher["app_id"].isdigit()
        emulator = http_clients.get(f"http://{pusher['host']}:{pusher['port']}/", timeout=30).json()
        assert emulator["key"] == pusher["key"]
        assert "jwt_secret" not in stack
        assert len(stack["sut_replicas"]) == 2
        assert stack["sut"] == stack["sut_replicas"][0]
        assert set(stack["users"]) == {"admin", "user"}
        for url in stack["sut_replicas"]:
            assert http_clients.get(f"{url}/health", timeout=30).json()["data"]["status"] == "healthy"
        login = http_clients.post(
            f"{stack['sut']}/api/v1/auth/token", json=stack["users"]["admin"], timeout=30
        )
        assert login.status_code == 200
        serving = listeners(urls_of(stack))
        assert len(serving) == len(urls_of(stack))  # a process each: the replicas, every service
    finally:
        stop(process, stop_with)
    assert process.returncode == 0
    assert process.stdout is not None
    assert process.stdout.read() == ""
    assert_no_survivors(marker)
    assert_gone(serving)  # the servers, marked or not (their ports are free: another may take one)
    assert (tmp_path / "run" / "logs" / "sut-1.log").exists()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["up"]["exit_code"] == 0


def test_spec_variables_in_the_environment_reach_the_backend(tmp_path: Path) -> None:
    marker = new_marker()
    env = {"CORRELATION_ID_HEADER": "X-Correlation-ID", "METRICS_ENABLED": "false"}
    process = spawn_up(tmp_path / "run", marker, env=env)
    try:
        stack = first_line(process)
        response = http_clients.get(
            f"{stack['sut']}/health", headers={"X-Correlation-ID": "corr-1"}, timeout=30
        )
        assert response.headers["x-correlation-id"] == "corr-1"
        assert http_clients.get(f"{stack['sut']}/metrics", timeout=30).status_code == 404
    finally:
        stop(process, signal.SIGINT)
    assert_no_survivors(marker)


ATTACHED = """
import psycopg
import httpx

from golive.fixtures.stack import TEMPLATE_ACCOUNTS, create_users


def test_a_migrated_database_of_its_own_on_that_stack(golive_database):
    with psycopg.connect(golive_database) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        # Only the accounts every database cloned from the template starts with.
        users = {row[0] for row in connection.execute("SELECT username FROM users")}
        assert users == set(TEMPLATE_ACCOUNTS.values())


def test_a_backend_of_its_own_on_that_stack(golive_start_backend, golive_database, golive_admin_credentials):
    create_users(golive_database, {"admin": golive_admin_credentials})
    backend = golive_start_backend({"DATABASE_URL": golive_database})
    assert httpx.get(f"{backend.urls[0]}/health", timeout=30).json()["data"]["status"] == "healthy"
    login = httpx.post(f"{backend.urls[0]}/api/v1/auth/token", json=golive_admin_credentials.model_dump())
    assert login.status_code == 200


def test_the_jwt_key(golive_jwt_secret):
    assert len(golive_jwt_secret) >= 32
"""


def test_suites_given_the_stack_file_of_golive_up_run_every_test(tmp_path: Path) -> None:
    """The guide's suite, and tests that reach inside the stack (a database and a backend of their
    own, the JWT key) against a stack another golive process runs: none of them skips."""
    marker = new_marker()
    process = spawn_up(tmp_path / "run", marker)
    attached = tmp_path / "attached" / "test_attached.py"
    attached.parent.mkdir()
    attached.write_text(ATTACHED)
    try:
        first_line(process)
        suite = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/spec",
                str(attached),
                "-rs",
                "-n0",  # seven tests: xdist's workers would cost more than they run
                f"--golive-stack-file={tmp_path / 'run' / 'stack.json'}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        stop(process, signal.SIGINT)
    assert suite.returncode == 0, suite.stdout
    assert "7 passed" in suite.stdout, suite.stdout
    assert "skipped" not in suite.stdout
    assert_no_survivors(marker)


def test_a_start_that_fails_half_way_leaves_nothing_running(tmp_path: Path) -> None:
    marker = new_marker()
    # Redis and the stand-in start in parallel with Postgres, which cannot: they must be stopped.
    process = spawn_up(tmp_path / "run", marker, env={"GOLIVE_PG_BINDIR": str(tmp_path)})
    _, stderr = communicate(process, 120)
    assert process.returncode == 1
    assert "GOLIVE_PG_BINDIR" in stderr
    assert "Traceback" not in stderr
    assert_no_survivors(marker)
    outcome = json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["up"]
    assert outcome["exit_code"] == 1
    assert "GOLIVE_PG_BINDIR" in outcome["outcome"]


def test_settings_the_backend_would_refuse_stop_up_before_anything_starts(tmp_path: Path) -> None:
    marker = new_marker()
    process = spawn_up(tmp_path / "run", marker, env={"JWT_SECRET": "too-short"})
    _, stderr = communicate(process, 120)
    assert process.returncode == 2
    assert stderr.strip().splitlines() == [
        "golive up: JWT_SECRET: must be at least 32 characters (HMAC keys shorter than the hash are weak)"
    ]
    assert not (tmp_path / "run").exists()
    assert_no_survivors(marker)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--provider", "nope"], "unknown provider 'nope'"),
        (["up", "--replicas", "0"], "Invalid value for '--replicas'"),
        (["validate", "--target", "localhost:8009"], "is not an http(s) URL"),
        (["validate", "--gate", "speed"], "golive validate: --gate speed: no such gate (gates: health,"),
    ],
)
def test_bad_arguments_get_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [*GOLIVE, *args, "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_ctrl_c_during_validate_stops_cleanly_and_still_reports_what_ran(tmp_path: Path) -> None:
    """The whole `validate --quick` runs in CI (.ci/run); here: interrupted after its first stages.
    One lane: how Ctrl-C stops lanes side by side is tested in test_lanes.py and test_suites.py,
    and test_killed.py kills a validation of three; two more stacks here took 60% of its CPU."""
    marker = new_marker()
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [*GOLIVE, "validate", "--quick", "--lanes", "1", "--run-dir", str(run_dir)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("PASS health"):
            break
    try:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert "INCOMPLETE" in output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "INCOMPLETE"
    assert "the run was interrupted before it was done" in summary["reasons"]
    statuses = {gate["id"]: gate["status"] for gate in summary["gates"]}
    assert statuses["health"] == "pass"
    assert statuses["load"] == "missing"
    assert (run_dir / "report.html").stat().st_size > 0
    assert json.loads((run_dir / "run.json").read_text())["commands"]["validate"]["exit_code"] == 130
    assert_no_survivors(marker)


def test_validate_against_a_deployment_that_is_down_fails(tmp_path: Path, golive_unused_port: int) -> None:
    result = subprocess.run(
        [
            *GOLIVE,
            "validate",
            "--target",
            f"http://127.0.0.1:{golive_unused_port}",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1
    assert (
        f"golive validate: --target http://127.0.0.1:{golive_unused_port}: does not answer GET /health"
        in (result.stderr.replace("\n", " "))
    )
    assert "ConnectError" in result.stderr
    assert "contract" not in result.stderr  # no suite ran against nothing
    assert json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["validate"]["exit_code"] == 1


def test_up_started_in_the_background_by_a_shell_still_stops_on_sigint(tmp_path: Path) -> None:
    # Non-interactive shells start background jobs with SIGINT ignored.
    marker = new_marker()
    process = subprocess.Popen(
        [*GOLIVE, "up", "--json", "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        first_line(process)
    finally:
        stop(process, signal.SIGINT)
    assert process.returncode == 0
    assert_no_survivors(marker)
