"""Circuit breakers end to end: trip, fail fast, half-open, close; shared by replicas; persisted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
import redis

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.network import wait_until
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import TIGHT, Backend, BackendMaker


def trip(backend: Backend, upstream: UpstreamControl, replica: int = 0) -> None:
    upstream.program(script=[500, 500])
    for _ in range(2):
        assert backend.generate(replica).status_code == 502
    assert backend.breaker(replica=replica)["state"] == "OPEN"


def test_failures_open_the_breaker_and_calls_then_fail_fast(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend()
    trip(service, golive_upstream)
    calls = golive_upstream.stats().calls

    response = service.generate()
    assert response.status_code == 503
    body = response.json()
    assert body["metadata"]["error_code"] == "CIRCUIT_OPEN"
    assert body["metadata"]["details"]["breaker"] == "ai-service"
    assert response.headers["retry-after"] == "1"
    assert golive_upstream.stats().calls == calls  # no call went out while open
    status = service.breaker()
    assert status["failure_count"] == 2
    assert status["trips"] == 1
    assert status["next_attempt_time"]
    assert status["last_failure_time"]


def test_after_the_timeout_one_trial_success_closes_it(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend()
    trip(service, golive_upstream)
    # Calls fail fast until the timeout has passed; then the trial goes through and closes it.
    outcome = _generate_until_admitted(service)
    assert outcome.status_code == 201
    assert service.breaker()["state"] == "CLOSED"
    assert service.breaker()["failure_count"] == 0


def _generate_until_admitted(service: Backend) -> httpx.Response:
    def admitted() -> httpx.Response | None:
        response = service.generate()
        return None if response.json()["metadata"].get("error_code") == "CIRCUIT_OPEN" else response

    return wait_until(admitted, timeout=10, what="the breaker to admit a trial", interval=0.1)


def test_a_failed_trial_opens_it_again(backend: BackendMaker, golive_upstream: UpstreamControl) -> None:
    service = backend()
    trip(service, golive_upstream)
    golive_upstream.program(script=[503])
    failed = _generate_until_admitted(service)
    assert failed.status_code == 502
    status = service.breaker()
    assert status["state"] == "OPEN"
    assert status["trips"] == 2


def test_client_errors_from_the_service_do_not_count(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend()
    golive_upstream.program(script=[400, 404, 422, 400])
    for _ in range(4):
        assert service.generate().status_code == 502
    assert service.breaker()["state"] == "CLOSED"
    assert service.breaker()["failure_count"] == 0


def test_the_overall_status_is_not_operational_while_a_breaker_is_open(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    """GET /resilience/status is what a monitor of the whole watches (the guide's 6.2): a
    dependency cut off by its breaker is not "operational", and once it closes, it is again."""
    service = backend()

    def overall() -> str:
        with service.client() as client:
            return str(client.get("/resilience/status").json()["data"]["status"])

    assert overall() == "operational"
    trip(service, golive_upstream)
    assert overall() != "operational"
    assert _generate_until_admitted(service).status_code == 201
    assert overall() == "operational"


def test_only_consecutive_failures_open_it(backend: BackendMaker, golive_upstream: UpstreamControl) -> None:
    """The threshold counts failures in a row: a success in between starts the count again, or
    sporadic failures over hours of healthy traffic would open it against a healthy service."""
    service = backend()  # a threshold of 2
    golive_upstream.program(script=[500, 200, 500, 200, 500])
    assert [service.generate().status_code for _ in range(5)] == [502, 201, 502, 201, 502]
    status = service.breaker()
    assert (status["state"], status["failure_count"]) == ("CLOSED", 1)


def test_a_trip_on_one_replica_opens_every_replica_within_a_second(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    # Open for longer than the test takes: with the tight 1 s the breaker may go half-open (and
    # admit the trial) on a busy machine before the last replica is asked.
    service = backend(replicas=3, CIRCUIT_BREAKER_TIMEOUT_SECONDS="600")
    trip(service, golive_upstream, replica=0)
    for replica in (1, 2):
        service.wait_for_state("OPEN", replica=replica, within=1.0)
        assert service.generate(replica).json()["metadata"]["error_code"] == "CIRCUIT_OPEN"


def test_a_reset_on_one_replica_resets_every_replica(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend(replicas=2, CIRCUIT_BREAKER_TIMEOUT_SECONDS="600")
    trip(service, golive_upstream, replica=0)
    service.wait_for_state("OPEN", replica=1, within=1.0)
    with service.client(1) as client:
        reset = client.post(
            "/circuit-breakers/ai-service/reset", headers={"Authorization": f"Bearer {service.admin}"}
        )
    assert reset.status_code == 200
    assert reset.json()["data"]["state"] == "CLOSED"
    service.wait_for_state("CLOSED", replica=0, within=1.0)
    assert service.generate(0).status_code == 201


def persisted_state(database: str) -> str | None:
    """What circuit_breaker_state says of the AI service's breaker."""
    with psycopg.connect(database) as connection:
        row = connection.execute(
            "SELECT state FROM circuit_breaker_state WHERE name = 'ai-service'"
        ).fetchone()
    return str(row[0]) if row else None


def restart_with_redis_emptied(service: Backend) -> None:
    service.cluster.stop()
    with redis.Redis.from_url(service.cluster.env["REDIS_URL"]) as client:
        client.flushdb()  # Redis restarted empty too: only the database remembers
    service.cluster.start(1)


def test_state_survives_a_restart_and_a_redis_wipe(
    backend: BackendMaker, golive_upstream: UpstreamControl, golive_database: str
) -> None:
    service = backend(CIRCUIT_BREAKER_TIMEOUT_SECONDS="600")
    trip(service, golive_upstream)
    wait_until(
        lambda: persisted_state(golive_database) == "OPEN" or None,
        timeout=10,
        what="the OPEN state in circuit_breaker_state",
    )
    restart_with_redis_emptied(service)
    status = service.breaker()
    assert status["state"] == "OPEN"
    assert status["failure_count"] == 2
    assert service.generate().json()["metadata"]["error_code"] == "CIRCUIT_OPEN"


def test_a_recovery_survives_a_restart_and_a_redis_wipe_too(
    backend: BackendMaker, golive_upstream: UpstreamControl, golive_database: str
) -> None:
    """Every state is remembered, not only trips: a breaker that recovered must not come back
    OPEN after a restart and refuse a healthy service."""
    service = backend()
    trip(service, golive_upstream)
    assert _generate_until_admitted(service).status_code == 201
    assert service.breaker()["state"] == "CLOSED"
    wait_until(
        lambda: persisted_state(golive_database) == "CLOSED" or None,
        timeout=10,
        what="the recovery (CLOSED) in circuit_breaker_state",
    )
    restart_with_redis_emptied(service)
    assert service.breaker()["state"] == "CLOSED"
    assert service.generate().status_code == 201


def test_a_failing_database_trips_its_own_breaker(
    golive_start_backend: BackendFactory, golive_unused_port: int
) -> None:
    # Persisting that breaker's state fails too (the database is what fails): requests must not.
    cluster = golive_start_backend(
        {**TIGHT, "DATABASE_URL": f"postgresql://nobody:x@127.0.0.1:{golive_unused_port}/none"}
    )
    codes = []
    with http_clients.Client(base_url=cluster.urls[0], timeout=30) as client:
        for _ in range(4):
            response = client.post("/api/v1/auth/token", json={"username": "u", "password": "p"})
            assert response.status_code == 503
            codes.append(response.json()["metadata"]["error_code"])
        status = client.get("/circuit-breakers/database/status").json()["data"]
    assert codes[:2] == ["DEPENDENCY_UNAVAILABLE"] * 2
    assert codes[2:] == ["CIRCUIT_OPEN"] * 2
    assert status["state"] == "OPEN"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/circuit-breakers/nope/status"), ("POST", "/circuit-breakers/nope/reset")],
)
def test_unknown_breakers_are_404(
    golive_http: httpx.Client, golive_admin_token: str, method: str, path: str
) -> None:
    response = golive_http.request(method, path, headers={"Authorization": f"Bearer {golive_admin_token}"})
    assert response.status_code == 404
    assert response.json()["metadata"]["error_code"] == "NOT_FOUND"


def test_status_lists_every_breaker_with_memory_usage(golive_http: httpx.Client) -> None:
    data = golive_http.get("/circuit-breakers/status").json()["data"]
    assert set(data["breakers"]) == {"ai-service", "database", "redis", "pusher"}
    for status in data["breakers"].values():
        assert {"state", "failure_count", "last_failure_time", "next_attempt_time"} <= set(status)
    assert data["memory_usage"]["breakers_bytes"] > 0
    assert data["memory_usage"]["process_rss_bytes"] > 0


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("user", 403), ("admin", 200)])
def test_only_admins_reset(
    golive_http: httpx.Client, golive_user_token: str, golive_admin_token: str, token: str | None, status: int
) -> None:
    headers = (
        {"Authorization": f"Bearer {golive_user_token if token == 'user' else golive_admin_token}"}
        if token
        else {}
    )
    assert golive_http.post("/circuit-breakers/redis/reset", headers=headers).status_code == status


def test_half_open_admits_exactly_the_configured_trials_across_replicas(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend(replicas=2, CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS="2")
    trip(service, golive_upstream)
    service.wait_for_state("OPEN", replica=1, within=1.0)
    golive_upstream.program(latency_ms=1500)  # trials stay in flight while the others arrive
    before = golive_upstream.stats().calls
    reopens = datetime.fromisoformat(str(service.breaker()["next_attempt_time"])).timestamp()

    async def storm() -> list[httpx.Response]:
        async with http_clients.AsyncClient(timeout=30) as client:

            async def one(replica: int) -> httpx.Response:
                return await client.post(
                    f"{service.cluster.urls[replica]}/api/v1/content/generate",
                    json={"prompt": "p"},
                    headers={"Authorization": f"Bearer {service.user}"},
                )

            # Once the open timeout is over, 2 replicas x 10 concurrent clients ask at once.
            await asyncio.sleep(max(0.0, reopens - datetime.now(UTC).timestamp()) + 0.05)
            return await asyncio.gather(*(one(index % 2) for index in range(20)))

    responses = asyncio.run(storm())
    admitted = [response for response in responses if response.status_code == 201]
    rejected = [response for response in responses if response.status_code == 503]
    assert len(admitted) == 2
    assert len(rejected) == 18
    assert all(response.json()["metadata"]["error_code"] == "CIRCUIT_OPEN" for response in rejected)
    assert golive_upstream.stats().calls - before == 2

    # The trial that closed it may have run on the other replica: this one sees it within its
    # 0.25 s re-read of the shared state (the README's "within a second").
    def closed() -> bool | None:
        return True if service.breaker()["state"] == "CLOSED" else None

    wait_until(closed, timeout=2, what="the breaker to close")


def test_turned_off_breakers_never_open(backend: BackendMaker, golive_upstream: UpstreamControl) -> None:
    service = backend(CIRCUIT_BREAKER_ENABLED="false")
    golive_upstream.program(script=[500] * 4)
    codes = [service.generate().json()["metadata"]["error_code"] for _ in range(4)]
    assert codes == ["UPSTREAM_ERROR"] * 4
    status = service.breaker()
    assert status["enabled"] is False
    assert status["state"] == "CLOSED"


def test_transitions_are_logged_as_the_guide_greps_them(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    service = backend()
    trip(service, golive_upstream)
    log = service.cluster.replicas[0].log_path.read_text()
    assert '"event": "circuit.breaker.open"' in log
    assert '"breaker": "ai-service"' in log
