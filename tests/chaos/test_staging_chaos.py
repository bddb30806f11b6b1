"""Chaos against a deployment (tests/chaos/staging.py: a staging deployment with Toxiproxy, built
from processes, not golive's stack): `golive chaos run --target --toxiproxy` runs what the
deployment can give what it needs and says n/a, with the reason, for the rest; the deployment is
put back as it was; a deployment that breaks a promise under a fault is NO-GO; and `golive
validate --target --toxiproxy` runs the chaos gate there instead of marking it n/a."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import psycopg
import pytest

from golive.chaos.experiment import library, load, resolve
from golive.chaos.targets import DeploymentTarget
from golive.core import http_clients
from golive.fixtures.description import Credentials
from golive.fixtures.services import PostgresAdmin
from golive.fixtures.stack import PROXIES
from tests.chaos.staging import Deployment, Services, backend, services
from tests.harness.golive import run_golive
from tests.loopback_http import serving

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

# What the deployment can run of the fast subset, and what not (and why, in part).
RUNS_THERE = ("redis-down", "ai-partial-resets")
NOT_THERE = {
    "postgres-down": "DATABASE_TIMEOUT_SECONDS=2 at start-up",
    "pusher-down": "PUSHER_TIMEOUT_SECONDS=0.5 at start-up",
    "pusher-hangs": "PUSHER_TIMEOUT_SECONDS=0.5 at start-up",
    "ai-latency-trips-breaker": "needs 2 replicas addressed one by one",
    "redis-blip-shared-state": "counts the calls that reached the AI service",
}


@pytest.fixture(scope="module")
def staging_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("staging")) as running:
        yield running


@pytest.fixture(scope="module")
def staging(staging_services: Services) -> Iterator[Deployment]:
    """The backend as the staging manifests configure it (the ConfigMap's rate limits included)."""
    with backend(staging_services, "good", redis_db=1) as deployment:
        yield deployment


def golive_against(deployment: Deployment, *args: str, timeout: float = 600) -> Any:
    return run_golive(
        *args,
        "--target",
        deployment.url,
        "--toxiproxy",
        deployment.toxiproxy,
        env=deployment.accounts,
        timeout=timeout,
    )


def journals(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in (run_dir / "chaos").glob("*.json")}


def runtime_config(deployment: Deployment) -> dict[str, Any]:
    config: dict[str, Any] = http_clients.get(f"{deployment.url}/resilience/config", timeout=10).json()[
        "data"
    ]
    return config


def users(deployment: Deployment) -> dict[str, Credentials]:
    accounts = deployment.accounts
    return {
        role: Credentials(
            username=accounts[f"GOLIVE_{role.upper()}_USERNAME"],
            password=accounts[f"GOLIVE_{role.upper()}_PASSWORD"],
        )
        for role in ("user", "admin")
    }


def test_what_a_deployment_cannot_give_makes_an_experiment_n_a_with_the_reason(staging: Deployment) -> None:
    target = DeploymentTarget(staging.url, staging.toxiproxy, users(staging))
    reasons = {path.stem: target.not_applicable(load(path)) for path in library()}
    for name in RUNS_THERE:
        assert reasons[name] is None, reasons[name]
    for name, why in NOT_THERE.items():
        assert why in (reasons[name] or ""), reasons[name]
    # The settings a deployment can change are the ones it says it can.
    assert "at runtime only: those GET /resilience/config lists" in str(reasons["postgres-down"])
    assert "AI_SERVICE_TIMEOUT_SECONDS=0.5 at start-up" in str(reasons["ai-latency-trips-breaker"])
    assert "RETRY_MAX_ATTEMPTS" not in str(reasons["ai-latency-trips-breaker"])  # a runtime one
    without_accounts = DeploymentTarget(staging.url, staging.toxiproxy, {})
    assert "needs accounts on the deployment ($GOLIVE_USER_USERNAME/PASSWORD and " in str(
        without_accounts.not_applicable(load(library()[0]))
    )


@pytest.fixture
def toxiproxy_itself() -> Iterator[str]:
    """A stand-in for Toxiproxy itself (Shopify's): golive's proxies listed, none of golive's own
    routes (GET /proxies/{name}/stats)."""

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/proxies":
                listed = {name: {"name": name, "enabled": True, "toxics": []} for name in PROXIES}
                body = json.dumps(listed).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Api) as url:
        yield url


def test_dice_rolled_per_chunk_need_golives_toxiproxy(staging: Deployment, toxiproxy_itself: str) -> None:
    target = DeploymentTarget(staging.url, toxiproxy_itself, users(staging))
    (partial,) = resolve(["ai-partial-resets"])
    assert "rolls its fault's dice per chunk (toxicity_scope: chunk), which only golive's Toxiproxy" in str(
        target.not_applicable(load(partial))
    )
    (redis_down,) = resolve(["redis-down"])
    assert target.not_applicable(load(redis_down)) is None


def test_chaos_run_through_the_deployments_toxiproxy_holds_and_puts_it_back(
    staging: Deployment, tmp_path: Path
) -> None:
    before = runtime_config(staging)
    run_dir = tmp_path / "run"
    run = golive_against(staging, "chaos", "run", *RUNS_THERE, "postgres-down", "--run-dir", str(run_dir))
    assert run.returncode == 0, run.stderr
    assert "HELD: 2 of 2 runs held (1 n/a against this deployment)" in run.stderr
    assert "N/A  postgres-d" in run.stderr
    written = journals(run_dir)
    for name in RUNS_THERE:
        assert written[f"{name}-1"]["outcome"] == "held", written[f"{name}-1"]["checks"]
    skipped = written["postgres-down-1"]
    assert (skipped["outcome"], skipped["status"]) == ("n/a", "skipped")
    assert NOT_THERE["postgres-down"] in skipped["not_applicable"]
    assert not skipped["requests"]
    # The faults went through the deployment's Toxiproxy, and its backend felt them.
    redis_down = written["redis-down-1"]
    assert any(event["kind"] == "fault-added" for event in redis_down["events"])
    opened = {
        event["detail"]["breaker"]
        for event in redis_down["events"]
        if event["kind"] == "breaker" and event["detail"]["state"] == "OPEN"
    }
    assert "redis" in opened
    # Retries counted during the run only (the deployment had counted since it started).
    assert written["ai-partial-resets-1"]["figures"]["ai-service.retries"] >= 2
    # Put back: no fault on any proxy, the deployment's own settings, its breakers closed.
    proxies = http_clients.get(f"{staging.toxiproxy}/proxies", timeout=10).json()
    assert all(proxy["enabled"] and not proxy["toxics"] for proxy in proxies.values())
    assert runtime_config(staging) == before
    breakers = http_clients.get(f"{staging.url}/circuit-breakers/status", timeout=10).json()["data"][
        "breakers"
    ]
    assert {status["state"] for status in breakers.values()} == {"CLOSED"}
    # The report knows this run was a deployment's.
    assert json.loads((run_dir / "stack.json").read_text())["provider"] == "external"


def test_a_deployment_whose_breakers_never_open_is_no_go(staging_services: Services, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    settings = {"CIRCUIT_BREAKER_ENABLED": "false"}
    with backend(staging_services, "no_breakers", redis_db=2, overrides=settings) as broken:
        run = golive_against(broken, "chaos", "run", "redis-down", "--run-dir", str(run_dir))
    assert run.returncode == 1, run.stderr
    assert "x breaker redis opened: opened: none" in run.stderr
    assert "DEVIATED: 0 of 1 runs held" in run.stderr
    report = run_golive("report", str(run_dir))
    assert report.returncode == 1, report.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "NO-GO"
    (gate,) = [gate for gate in summary["gates"] if gate["id"] == "breakers"]
    assert gate["status"] == "fail"
    assert "redis-down (deviated): breaker redis opened: opened: none" in gate["detail"]


def databases(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as connection:
        return {str(name) for (name,) in connection.execute("SELECT datname FROM pg_database").fetchall()}


def test_validate_drills_in_an_empty_database_on_the_deployments_server(
    staging_services: Services, staging: Deployment, tmp_path: Path
) -> None:
    """`--database-url`: the drills run there, one after another, instead of being n/a against a
    deployment; the rollback drill's backends run from here, on a stack started for them."""
    PostgresAdmin(staging_services.postgres_admin).create_database("golive_drills")
    drills_in = staging_services.postgres_admin.dsn("golive_drills")
    before = databases(drills_in)
    run_dir = tmp_path / "run"
    run = run_golive(
        "validate", "--quick", "--target", staging.url, "--database-url", drills_in,
        "--gate", "migration", "--gate", "rollback", "--gate", "backup", "--run-dir", str(run_dir),
        env=staging.accounts, timeout=600,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr  # focused on three gates: never GO
    assert "for the drills' backends" in run.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    drilled = {
        gate["id"]: gate["status"]
        for gate in summary["gates"]
        if gate["id"] in ("migration", "rollback", "backup")
    }
    assert drilled == dict.fromkeys(("migration", "rollback", "backup"), "pass"), summary["gates"]
    assert databases(drills_in) == before, "a restore target the drills made next to it was left behind"


def test_a_database_url_golive_cannot_use_is_one_line_before_anything_starts(staging: Deployment) -> None:
    run = run_golive(
        "validate", "--target", staging.url, "--database-url", "postgresql://nobody@127.0.0.1:9/none",
        env=staging.accounts, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(
        "golive validate: --database-url: cannot use postgresql://nobody@127.0.0.1:9/none: "
    )


@pytest.mark.heavy
@pytest.mark.timeout(1800)
def test_validate_runs_the_chaos_gate_against_the_deployment(staging: Deployment, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run = golive_against(staging, "validate", "--quick", "--run-dir", str(run_dir), timeout=1800)
    assert run.returncode in (0, 1), run.stderr
    for name in RUNS_THERE:
        assert f"PASS chaos {name}" in run.stderr
    assert "N/A  chaos postgres-down" in run.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    outcomes = {chaos["experiment"]: chaos["outcome"] for chaos in summary["chaos"]}
    assert outcomes == {**dict.fromkeys(RUNS_THERE, "held"), **dict.fromkeys(NOT_THERE, "n/a")}
    (gate,) = [gate for gate in summary["gates"] if gate["id"] == "breakers"]
    assert gate["status"] == "pass", gate["detail"]
    assert "2 of 2 experiments held; opened and closed again: " in gate["detail"]
    for name in NOT_THERE:
        assert f"n/a: {name} (" in gate["detail"]
