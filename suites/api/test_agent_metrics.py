"""Agent metrics count every generation per agent, failures included, from the agent_metrics table."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory, login
from golive.fixtures.operations import create_users
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import bearer


def metrics_of(http: httpx.Client, token: str, agent: str) -> dict[str, object]:
    response = http.get("/api/v1/agents/metrics", params={"agent": agent}, headers=bearer(token))
    assert response.status_code == 200
    rows = response.json()["data"]
    assert len(rows) == 1, rows
    row: dict[str, object] = rows[0]
    return row


def test_generations_and_failures_are_counted_per_agent(
    golive_http: httpx.Client, golive_user_token: str, golive_upstream: UpstreamControl
) -> None:
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        assert (
            golive_http.post(
                "/api/v1/content/generate",
                json={"prompt": "p", "agent": agent},
                headers=bearer(golive_user_token),
            ).status_code
            == 201
        )
    golive_upstream.program(script=[500])
    assert (
        golive_http.post(
            "/api/v1/content/generate",
            json={"prompt": "p", "agent": agent},
            headers=bearer(golive_user_token),
        ).status_code
        == 502
    )

    row = metrics_of(golive_http, golive_user_token, agent)
    assert row["requests_total"] == 4
    assert row["errors_total"] == 1
    assert row["error_rate"] == 0.25
    assert isinstance(row["avg_response_time"], float)
    assert row["avg_response_time"] > 0
    assert row["circuit_breaker_trips"] == 0


@pytest.mark.external_ok
def test_metrics_need_authentication(golive_http: httpx.Client) -> None:
    assert golive_http.get("/api/v1/agents/metrics").status_code == 401


def test_legacy_rows_are_served_and_carried_on(
    golive_database: str, golive_start_backend: BackendFactory
) -> None:
    # A row as the legacy system wrote it: no average, new columns at their defaults.
    with psycopg.connect(golive_database, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO agent_metrics (agent_name, requests_total, errors_total) "
            "VALUES ('legacy-agent', 10, 2)"
        )
    backend = golive_start_backend({"DATABASE_URL": golive_database})
    user = new_credentials("legacy-reader")
    create_users(golive_database, {"user": user})
    token = login(backend.urls[0], user)
    with http_clients.Client(base_url=backend.urls[0], timeout=30) as client:
        row = metrics_of(client, token, "legacy-agent")
        assert row["requests_total"] == 10
        assert row["errors_total"] == 2
        assert row["error_rate"] == 0.2
        assert row["avg_response_time"] is None
        assert row["rate_limit_hits"] == 0
        created = client.post(
            "/api/v1/content/generate", json={"prompt": "p", "agent": "legacy-agent"}, headers=bearer(token)
        )
        assert created.status_code == 201
        row = metrics_of(client, token, "legacy-agent")
    assert row["requests_total"] == 11
    assert isinstance(row["avg_response_time"], float)
