"""The health stage keeps what each health endpoint said (health.json), so the report can judge
the body and not just the status: here against a server that answers 200 with the success
envelope while saying the database is down (the reference backend would not lie so)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from golive.core.health_evidence import HEALTH_FILE, HealthRecord
from golive.reports.evidence import Evidence
from golive.reports.gates import HealthGate, Status
from golive.stages.health import HEALTH_PATHS, check_health
from golive.stages.outcome import Outcome
from tests.loopback_http import serving

BODIES = {
    "/health": {
        "status": "healthy",
        "dependencies": {
            "database": {"status": "down"},
            "redis": {"status": "up"},
            "upstream": {"status": "up"},
        },
    },
    "/pusher/status": {"status": "operational"},
}


class LyingHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"status": "success", "data": BODIES.get(self.path, {}), "metadata": {}}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """No access log on the test's stderr."""


@pytest.fixture
def lying_backend() -> Iterator[str]:
    with serving(LyingHealth) as url:
        yield url


def test_each_answers_body_is_recorded_and_judged(lying_backend: str, tmp_path: Path) -> None:
    outcomes: list[Outcome] = []
    check_health(lying_backend, tmp_path, outcomes.append)
    health = json.loads((tmp_path / "health.json").read_text())
    assert [check["path"] for check in health["checks"]] == list(HEALTH_PATHS)
    (recorded,) = [check for check in health["checks"] if check["path"] == "/health"]
    assert recorded["body"]["data"] == BODIES["/health"]
    result = HealthGate("health", "Health endpoints", "6.2").evaluate(
        Evidence.read(tmp_path), deployment=False
    )
    assert result.status == Status.FAIL
    assert "database is reported 'down'" in result.detail


def test_what_the_stage_writes_reads_back_by_its_type(lying_backend: str, tmp_path: Path) -> None:
    check_health(lying_backend, tmp_path, lambda outcome: None)
    read = HealthRecord.read(tmp_path / HEALTH_FILE)
    assert [(check.path, check.status_code, check.problem) for check in read.checks] == [
        (path, 200, None) for path in HEALTH_PATHS
    ]
    assert read.checks[0].state == "healthy"
    assert read.checks[0].body == {"status": "success", "data": BODIES["/health"], "metadata": {}}
