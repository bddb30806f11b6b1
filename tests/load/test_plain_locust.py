"""The locustfile as Locust's own users run it: `locust -f loadtests/locustfile.py --host URL`, no
golive in between. (Locust runs in a process of its own: importing it would patch this one.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import StackDescription

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
LOCUST = Path(sys.executable).with_name("locust")


def run_locust(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Locust's own options: nothing of golive's environment leaks in.
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("GOLIVE_", "LOCUST_"))}
    return subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def access_log(log: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


def test_the_host_given_to_locust_is_the_one_loaded(
    golive_start_backend: BackendFactory, golive_stack_description: StackDescription, tmp_path: Path
) -> None:
    # A backend of its own: its access log holds only this run's requests.
    backend = golive_start_backend()
    user, admin = golive_stack_description.users["user"], golive_stack_description.users["admin"]
    accounts = {
        "GOLIVE_USER_USERNAME": user.username,
        "GOLIVE_USER_PASSWORD": user.password,
        "GOLIVE_ADMIN_USERNAME": admin.username,
        "GOLIVE_ADMIN_PASSWORD": admin.password,
    }
    run = run_locust(
        # One user of each journey; the stop timeout lets each finish the task it started. A
        # journey's first task comes after its log-in (on_start), which Locust does not wait for:
        # four argon2 log-ins at once take a few hundred milliseconds, over three seconds on a busy
        # machine, and the run is long enough for them to end well before it does.
        [
            *("--host", backend.urls[0], "-u", "5", "-r", "5", "-t", "8s", "--stop-timeout", "30"),
            *("--json-file", str(tmp_path / "stats")),
        ],
        accounts,
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    stats = {entry["name"]: entry for entry in json.loads((tmp_path / "stats.json").read_text())}
    assert sum(entry["num_failures"] for entry in stats.values()) == 0, run.stderr[-3000:]
    # The accounts came from the environment: users and the admin logged in and went on.
    for name in (
        "[health] GET /health",
        "[auth] POST /api/v1/auth/token",
        "[auth] GET /api/v1/auth/me",
        "[admin] GET /circuit-breakers/status",
    ):
        assert stats[name]["num_requests"] > 0, sorted(stats)
    served = access_log(backend.log_dir / "sut-0.log")
    logins = [line for line in served if line["path"] == "/api/v1/auth/token" and line["status"] == 200]
    assert len(logins) == stats["[auth] POST /api/v1/auth/token"]["num_requests"]
    assert any(line["path"] == "/health" for line in served)


def test_golive_hosts_spread_users_when_locust_is_given_no_host(
    golive_start_backend: BackendFactory, tmp_path: Path
) -> None:
    backend = golive_start_backend(replicas=2)
    run = run_locust(
        ["-u", "4", "-r", "4", "-t", "3s", "HealthChecker"],
        {"GOLIVE_LOAD_HOSTS": ",".join(backend.urls)},
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for index in range(2):
        served = access_log(backend.log_dir / f"sut-{index}.log")
        assert any(line["path"] == "/health" for line in served), f"replica {index} got no request"
