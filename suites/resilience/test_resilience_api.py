"""/resilience/*: status and metrics as operators read them; configuration that reaches every
replica; and the bulkhead and agent metrics that resilience feeds."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import Credentials
from golive.fixtures.network import wait_until
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import BackendMaker


def test_status_reports_breakers_limiter_and_bulkheads(golive_http: httpx.Client) -> None:
    response = golive_http.get("/resilience/status")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "operational"
    assert set(data["circuit_breakers"]) == {"ai-service", "database", "redis", "pusher"}
    assert data["rate_limiter"] == {"enabled": True, "backend": "redis", "degraded": False}
    assert data["bulkheads"]["ai-service"]["limit"] == 10
    assert 0 <= data["shared_state_age_seconds"] < 5
    assert data["replica"]


def test_metrics_count_calls_per_dependency(golive_http: httpx.Client, golive_user_token: str) -> None:
    golive_http.post(
        "/api/v1/content/generate",
        json={"prompt": "p"},
        headers={"Authorization": f"Bearer {golive_user_token}"},
    )
    data = golive_http.get("/resilience/metrics").json()["data"]
    ai = data["dependencies"]["ai-service"]
    assert ai["successes"] >= 1
    assert ai["latency_ms"]["p50"] > 0
    assert data["dependencies"]["database"]["successes"] >= 1
    assert {"allowed", "rejected", "local"} <= set(data["rate_limiter"])


def test_a_config_change_reaches_every_replica(backend: BackendMaker) -> None:
    service = backend(replicas=2)
    with service.client(0) as client:
        changed = client.post(
            "/resilience/config",
            json={
                "circuit_breaker_failure_threshold": 7,
                "rate_limit_burst_size": 2,
                "rate_limit_requests_per_minute": 1,
            },
            headers={"Authorization": f"Bearer {service.admin}"},
        )
    assert changed.status_code == 200
    assert changed.json()["data"]["circuit_breaker_failure_threshold"] == 7

    def on_replica_1() -> dict[str, object] | None:
        with service.client(1) as client:
            config: dict[str, object] = client.get("/resilience/config").json()["data"]
        return config if config["circuit_breaker_failure_threshold"] == 7 else None

    config = wait_until(on_replica_1, timeout=1.0, what="the change on replica 1")
    assert config["rate_limit_burst_size"] == 2
    assert service.breaker(replica=1)["failure_threshold"] == 7
    with service.client(1) as client:
        codes = [
            client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {service.user}"}).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"unknown_setting": 1},
        {"circuit_breaker_failure_threshold": 0},
        {"circuit_breaker_failure_threshold": "many"},
        {"retry_backoff_factor": 0.5},
        {"rate_limit_enabled": "perhaps"},
        [],
    ],
    ids=["empty", "unknown", "zero", "string", "below-one", "not-bool", "array"],
)
def test_bad_configuration_is_422_and_changes_nothing(
    golive_http: httpx.Client, golive_admin_token: str, body: object
) -> None:
    before = golive_http.get("/resilience/config").json()["data"]
    response = golive_http.post(
        "/resilience/config", json=body, headers={"Authorization": f"Bearer {golive_admin_token}"}
    )
    assert response.status_code == 422
    assert response.json()["metadata"]["error_code"] == "VALIDATION_ERROR"
    assert golive_http.get("/resilience/config").json()["data"] == before


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("user", 403)])
def test_only_admins_configure(
    golive_http: httpx.Client, golive_user_token: str, who: str | None, status: int
) -> None:
    headers = {"Authorization": f"Bearer {golive_user_token}"} if who else {}
    response = golive_http.post("/resilience/config", json={"retry_max_attempts": 1}, headers=headers)
    assert response.status_code == status


def test_a_full_bulkhead_rejects_at_once(backend: BackendMaker, golive_upstream: UpstreamControl) -> None:
    service = backend(BULKHEAD_MAX_CONCURRENT="2", CIRCUIT_BREAKER_FAILURE_THRESHOLD="50")
    golive_upstream.program(latency_ms=1000)

    async def storm() -> list[httpx.Response]:
        async with http_clients.AsyncClient(base_url=service.cluster.urls[0], timeout=30) as client:
            headers = {"Authorization": f"Bearer {service.user}"}
            return await asyncio.gather(
                *(
                    client.post("/api/v1/content/generate", json={"prompt": "p"}, headers=headers)
                    for _ in range(6)
                )
            )

    answers = asyncio.run(storm())
    full = [answer for answer in answers if answer.status_code == 503]
    assert sorted(answer.status_code for answer in answers) == [201, 201, 503, 503, 503, 503]
    assert all(answer.json()["metadata"]["error_code"] == "BULKHEAD_FULL" for answer in full)
    assert all(answer.headers["retry-after"] == "1" for answer in full)
    assert golive_upstream.stats().calls == 2
    with service.client() as client:
        bulkhead = client.get("/resilience/status").json()["data"]["bulkheads"]["ai-service"]
    assert bulkhead == {"in_use": 0, "limit": 2, "rejected": 4}


def test_the_call_that_trips_the_breaker_is_counted_for_its_agent(
    backend: BackendMaker, golive_upstream: UpstreamControl, golive_database: str
) -> None:
    service = backend()  # threshold 2
    agent = f"agent-{uuid.uuid4().hex[:6]}"
    golive_upstream.program(script=[500, 500])
    with service.client() as client:
        for _ in range(3):  # two failures trip it; the third is refused while open
            client.post(
                "/api/v1/content/generate",
                json={"prompt": "p", "agent": agent},
                headers={"Authorization": f"Bearer {service.user}"},
            )
    with psycopg.connect(golive_database) as connection:
        row = connection.execute(
            "SELECT requests_total, errors_total, circuit_breaker_trips FROM agent_metrics "
            "WHERE agent_name = %s",
            (agent,),
        ).fetchone()
    assert row == (3, 3, 1)


# The guide's values for its resilience variables (Configuration Changes: New Required Variables):
# what a deployment that sets none of them runs with.
GUIDE_DEFAULTS: dict[str, object] = {
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD": 5,
    "CIRCUIT_BREAKER_TIMEOUT_SECONDS": 60,
    "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS": 3,
    "RATE_LIMIT_REQUESTS_PER_MINUTE": 100,
    "RATE_LIMIT_BURST_SIZE": 20,
    "RATE_LIMIT_ENABLED": True,
    "RETRY_MAX_ATTEMPTS": 3,
    "RETRY_BACKOFF_FACTOR": 2,
    "BULKHEAD_MAX_CONCURRENT": 10,
}


# The guide's Settings (Settings Migration): tokens signed HS256, valid for 30 minutes.
GUIDE_TOKENS = {"JWT_ALGORITHM": "HS256", "JWT_EXPIRE_MINUTES": "30"}


def test_without_the_guides_variables_the_backend_runs_with_the_guides_values(
    golive_start_backend: BackendFactory, golive_admin_credentials: Credentials
) -> None:
    """The suites set these variables for their own purposes; a deployment that sets none gets the
    backend's defaults, which must be the guide's (a threshold of 50, no burst cap, or tokens that
    live a day would pass every test that sets its own)."""
    cluster = golive_start_backend(unset=[*GUIDE_DEFAULTS, *GUIDE_TOKENS])
    with http_clients.Client(base_url=cluster.urls[0], timeout=30) as client:
        config = client.get("/resilience/config").json()["data"]
        limits = client.get("/rate-limit/config").json()["data"]
        breaker = client.get("/circuit-breakers/ai-service/status").json()["data"]
        login = client.post("/api/v1/auth/token", json=golive_admin_credentials.model_dump()).json()
    running = {name: config.get(name.lower()) for name in GUIDE_DEFAULTS}
    assert running == GUIDE_DEFAULTS
    assert (limits["burst_size"], limits["requests_per_minute"]) == (20, 100)
    assert breaker["failure_threshold"] == 5
    # What a login issues: its stated lifetime, and the token's own.
    token = login["data"]["access_token"]
    header, claims = jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    lifetime = int(GUIDE_TOKENS["JWT_EXPIRE_MINUTES"]) * 60
    assert (header["alg"], login["data"]["expires_in"], claims["exp"] - claims["iat"]) == (
        GUIDE_TOKENS["JWT_ALGORITHM"],
        lifetime,
        lifetime,
    )
