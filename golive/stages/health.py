"""The health stage: the guide's 6.2 against the backend, and whether a deployment answers at all."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from golive.core import http_clients
from golive.core.health_evidence import HEALTH_FILE, HealthCheck, HealthRecord
from golive.core.redaction import redact, redact_all
from golive.reports.gates import HEALTH_STAGE
from golive.stages.outcome import Report, timed

HEALTH_PATHS = ("/health", "/resilience/status", "/circuit-breakers/status", "/pusher/status")


def check_health(url: str, run_dir: Path, report: Report) -> bool:
    """Every health endpoint answers 200 with the success envelope: health.json, with each
    answer's body for the report to judge what it says."""
    with timed(HEALTH_STAGE, report) as stage:
        checks = [_check(url, path) for path in HEALTH_PATHS]
        HealthRecord(url=redact(url), checks=checks).write(run_dir / HEALTH_FILE)
        problems = [f"{check.path}: {check.problem}" for check in checks if check.problem]
        stage["ok"] = not problems
        stage["detail"] = "; ".join(problems) or ", ".join(f"{c.path} {c.status_code}" for c in checks)
    return bool(stage["ok"])


def _check(url: str, path: str) -> HealthCheck:
    started = time.perf_counter()
    try:
        response = http_clients.get(f"{url}{path}", timeout=10)
    except httpx.HTTPError as error:
        return HealthCheck(
            path=path, status_code=None, state=None, ms=None, problem=redact(str(error)), body=None
        )
    ms = round((time.perf_counter() - started) * 1000, 1)
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = None
    if response.status_code != 200:
        problem = f"HTTP {response.status_code}"
    elif not isinstance(body, dict) or body.get("status") != "success" or "metadata" not in body:
        problem = "not the success envelope"
    data = body.get("data") if isinstance(body, dict) else None
    state = data.get("status") if isinstance(data, dict) else None
    # The body is what the Health gate judges: each dependency's state as the backend reports it.
    return HealthCheck(
        path=path,
        status_code=response.status_code,
        state=None if state is None else str(state),
        ms=ms,
        problem=problem,
        body=redact_all(body),
    )


def unreachable(url: str) -> str | None:
    """Why a deployment does not answer `GET /health`, or None when it answers at all (its
    health is the suites' business): suites against a dead URL would only fail one by one."""
    try:
        http_clients.get(f"{url}/health", timeout=10)
    except httpx.HTTPError as error:
        return f"does not answer GET /health ({type(error).__name__}: {error})"
    return None
