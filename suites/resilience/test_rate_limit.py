"""Rate limiting end to end: the bucket's arithmetic on the wire, who shares a bucket, exactness
across replicas, and what happens without Redis."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import login
from golive.fixtures.network import wait_until
from golive.fixtures.operations import create_users
from golive.fixtures.stack import StackHandle, mint_token

from .conftest import Backend, BackendMaker

LIMITED = {"RATE_LIMIT_BURST_SIZE": "5", "RATE_LIMIT_REQUESTS_PER_MINUTE": "6"}  # one token per 10 s


def me(backend: Backend, token: str | None = None, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    with backend.client() as client:
        return client.get("/api/v1/auth/me", headers=headers)


def test_a_burst_passes_then_429_with_retry_after_and_quota_headers(backend: BackendMaker) -> None:
    service = backend(**LIMITED)
    answers = [me(service, service.user) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert [answer.headers["x-ratelimit-remaining"] for answer in answers] == ["4", "3", "2", "1", "0", "0"]
    refused = answers[-1]
    body = refused.json()
    assert body["metadata"]["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert refused.headers["x-ratelimit-limit"] == "5"
    assert refused.headers["ratelimit-policy"] == '"burst";q=5;w=50'
    assert refused.headers["ratelimit"].startswith('"burst";r=0;t=')
    assert refused.headers["x-request-id"]


def test_a_burst_of_one_admits_one_request(backend: BackendMaker) -> None:
    # The bucket's last token is as good as its first. A burst of one is where that shows exactly:
    # in a larger burst, the refill of the few milliseconds it takes tops the last token up.
    service = backend(RATE_LIMIT_BURST_SIZE="1", RATE_LIMIT_REQUESTS_PER_MINUTE="1")
    assert [me(service, service.user).status_code for _ in range(2)] == [200, 429]


def test_probes_are_never_limited(backend: BackendMaker) -> None:
    service = backend(RATE_LIMIT_BURST_SIZE="2", RATE_LIMIT_REQUESTS_PER_MINUTE="1")
    with service.client() as client:
        assert all(client.get("/health").status_code == 200 for _ in range(20))
        assert all(client.get("/metrics").status_code == 200 for _ in range(5))
        assert all(client.get("/circuit-breakers/status").status_code == 200 for _ in range(5))


def test_each_user_has_a_bucket_of_their_own(backend: BackendMaker) -> None:
    service = backend(**LIMITED)
    for _ in range(5):
        assert me(service, service.user).status_code == 200
    assert me(service, service.user).status_code == 429
    assert me(service, service.admin).status_code == 200  # another user, another bucket


def test_a_fresh_token_does_not_buy_a_fresh_bucket(backend: BackendMaker, golive_database: str) -> None:
    service = backend(**LIMITED)
    user = new_credentials(f"r-{uuid.uuid4().hex[:8]}")
    create_users(golive_database, {"user": user})
    tokens = [login(service.cluster.urls[0], user) for _ in range(3)]  # logins are anonymous requests
    answers = [me(service, tokens[index % 3]).status_code for index in range(6)]
    assert answers == [200] * 5 + [429]


def test_a_forged_token_buys_no_bucket_and_spends_no_one_elses(
    backend: BackendMaker, golive_database: str
) -> None:
    """A token the backend did not sign is no one's: limited as its client's address, whatever
    subject it claims (a made-up one each time, or a real user's, whose own bucket stays whole)."""
    service = backend(**LIMITED)
    victim = new_credentials(f"v-{uuid.uuid4().hex[:8]}")
    victim_id = create_users(golive_database, {"user": victim})["user"]
    forger = secrets.token_urlsafe(32)
    claimed = [victim_id if index % 2 else 1_000_000 + index for index in range(6)]
    forged = [mint_token(forger, subject, victim.username, "user") for subject in claimed]
    assert [me(service, token).status_code for token in forged] == [401] * 5 + [429]
    genuine = mint_token(service.cluster.env["JWT_SECRET"], victim_id, victim.username, "user")
    assert [me(service, genuine).status_code for _ in range(5)] == [200] * 5


def test_anonymous_clients_are_limited_by_address_and_x_forwarded_for_is_not_believed(
    backend: BackendMaker,
) -> None:
    service = backend(**LIMITED)
    answers = [me(service, forwarded_for=f"203.0.113.{index}") for index in range(6)]
    # Anonymous: 401 from auth, but each one took a token of 127.0.0.1's bucket first.
    assert [answer.status_code for answer in answers] == [401] * 5 + [429]


def test_x_forwarded_for_is_believed_from_trusted_proxies_only(backend: BackendMaker) -> None:
    service = backend(**LIMITED, RATE_LIMIT_TRUSTED_PROXIES='["127.0.0.1/32"]')
    for address in ("198.51.100.7", "198.51.100.8"):
        codes = [me(service, forwarded_for=f"10.9.9.9, {address}").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]  # one bucket per real client, the spoofed 10.9.9.9 ignored
    with service.client() as client:
        usage = client.get(
            "/rate-limit/usage/ip-198.51.100.7", headers={"Authorization": f"Bearer {service.admin}"}
        )
    assert usage.json()["data"]["buckets"]["ip-198.51.100.7"]["rejected"] == 1


def test_replicas_together_admit_exactly_the_burst(backend: BackendMaker) -> None:
    service = backend(replicas=3, RATE_LIMIT_BURST_SIZE="10", RATE_LIMIT_REQUESTS_PER_MINUTE="1")

    # Two requests in flight per replica: the replicas race on the one bucket all along, and no
    # replica's event loop is so busy that its Redis call times out and it limits locally instead.
    in_flight = asyncio.Semaphore(6)

    async def storm() -> list[int]:
        async with http_clients.AsyncClient(timeout=30) as client:

            async def one(index: int) -> int:
                async with in_flight:
                    response = await client.get(
                        f"{service.cluster.urls[index % 3]}/api/v1/auth/me",
                        headers={"Authorization": f"Bearer {service.user}"},
                    )
                return response.status_code

            return list(await asyncio.gather(*(one(index) for index in range(60))))

    codes = asyncio.run(storm())
    assert codes.count(200) == 10
    assert codes.count(429) == 50


def test_without_redis_the_limiter_degrades_to_local_buckets(
    backend: BackendMaker, golive_stack: StackHandle, tmp_path: object
) -> None:
    from pathlib import Path

    own_redis = golive_stack.provider.start_redis(Path(str(tmp_path)))
    try:
        service = backend(**LIMITED, REDIS_URL=own_redis.url)
        assert me(service, service.user).headers["x-ratelimit-remaining"] == "4"
    finally:
        own_redis.stop()
    # Redis is gone: the same client is now limited by this replica alone, from a fresh bucket.
    answers = [me(service, service.user) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    with service.client() as client:
        status = client.get("/resilience/status").json()["data"]
        config = client.get("/rate-limit/config").json()["data"]
    assert status["rate_limiter"]["degraded"] is True
    assert status["status"] == "degraded"
    assert config["backend"].startswith("local")


def test_turned_off_it_neither_limits_nor_speaks(backend: BackendMaker) -> None:
    service = backend(
        RATE_LIMIT_ENABLED="false", RATE_LIMIT_BURST_SIZE="1", RATE_LIMIT_REQUESTS_PER_MINUTE="1"
    )
    answers = [me(service, service.user) for _ in range(5)]
    assert all(answer.status_code == 200 for answer in answers)
    assert "x-ratelimit-limit" not in answers[0].headers


def test_an_admin_switches_it_off_and_on_at_run_time_on_every_replica(backend: BackendMaker) -> None:
    """The guide's partial rollback "disable rate limiting" is a runtime switch too (POST
    /resilience/config): what the config says is what every replica does."""
    service = backend(replicas=2, RATE_LIMIT_BURST_SIZE="1", RATE_LIMIT_REQUESTS_PER_MINUTE="1")

    def switch(enabled: bool) -> None:
        with service.client(0) as client:
            answer = client.post(
                "/resilience/config",
                json={"rate_limit_enabled": enabled},
                headers={"Authorization": f"Bearer {service.admin}"},
            )
        assert answer.status_code == 200, answer.text

    def answers(replica: int) -> list[int]:
        with service.client(replica) as client:
            headers = {"Authorization": f"Bearer {service.user}"}
            return [client.get("/api/v1/auth/me", headers=headers).status_code for _ in range(3)]

    switch(False)
    wait_until(lambda: answers(0) + answers(1) == [200] * 6 or None, timeout=5, what="unlimited everywhere")
    switch(True)
    wait_until(
        lambda: (429 in answers(0) and 429 in answers(1)) or None, timeout=5, what="limited everywhere"
    )


def test_per_endpoint_buckets_follow_route_templates(backend: BackendMaker) -> None:
    service = backend(**LIMITED, RATE_LIMIT_PER_ENDPOINT="true")
    for _ in range(5):
        assert me(service, service.user).status_code == 200
    assert me(service, service.user).status_code == 429
    headers = {"Authorization": f"Bearer {service.user}"}
    with service.client() as client:
        assert client.get("/api/v1/agents/metrics", headers=headers).status_code == 200  # another route
        # Two ids, one template: one bucket.
        codes = [client.get(f"/api/v1/content/{uuid.uuid4()}", headers=headers).status_code for _ in range(6)]
    assert codes == [404] * 5 + [429]


def test_refused_generations_count_as_rate_limit_hits_of_their_agent(
    backend: BackendMaker, golive_database: str
) -> None:
    service = backend(RATE_LIMIT_BURST_SIZE="1", RATE_LIMIT_REQUESTS_PER_MINUTE="1")
    agent = f"agent-{uuid.uuid4().hex[:6]}"
    with service.client() as client:
        for _ in range(3):
            client.post(
                "/api/v1/content/generate",
                json={"prompt": "p", "agent": agent},
                headers={"Authorization": f"Bearer {service.user}"},
            )

    def hits() -> int | None:
        with psycopg.connect(golive_database) as connection:
            row = connection.execute(
                "SELECT rate_limit_hits FROM agent_metrics WHERE agent_name = %s", (agent,)
            ).fetchone()
        return row[0] if row and row[0] == 2 else None

    assert wait_until(hits, timeout=10, what="two rate limit hits for the agent") == 2


def test_usage_is_persisted_to_rate_limit_state(backend: BackendMaker, golive_database: str) -> None:
    service = backend(**LIMITED)
    for _ in range(3):
        me(service, service.user)

    def persisted() -> tuple[float, int] | None:
        with psycopg.connect(golive_database) as connection:
            row = connection.execute(
                "SELECT tokens, request_count FROM rate_limit_state WHERE identifier LIKE 'user-%' "
                "ORDER BY request_count DESC LIMIT 1"
            ).fetchone()
        return (row[0], row[1]) if row and row[1] == 3 else None

    tokens, count = wait_until(persisted, timeout=15, what="the bucket in rate_limit_state")
    assert count == 3
    assert 1.9 <= tokens <= 2.5


def user_id_of(service: Backend, token: str) -> int:
    identifier: int = me(service, token).json()["data"]["id"]
    return identifier


def test_usage_and_reset_endpoints(backend: BackendMaker) -> None:
    service = backend(**LIMITED)
    user = user_id_of(service, service.user)
    own = f"/rate-limit/usage/user-{user}"
    as_user = {"Authorization": f"Bearer {service.user}"}
    as_admin = {"Authorization": f"Bearer {service.admin}"}
    with service.client() as client:
        mine = client.get(own, headers=as_user)  # the user's second request: 3 tokens left after it
        assert mine.status_code == 200
        assert mine.json()["data"]["buckets"][f"user-{user}"]["requests"] == 2
        assert client.get(own).status_code == 401
        other = f"/rate-limit/usage/user-{user + 1}"
        assert client.get(other, headers=as_user).status_code == 403
        assert client.get(other, headers=as_admin).status_code == 200
        assert client.get("/rate-limit/usage/bogus", headers=as_admin).status_code == 422
        codes = [client.get("/api/v1/auth/me", headers=as_user).status_code for _ in range(3)]
        assert codes == [200, 200, 429]  # two tokens were left after the user's three requests
        exhausted = client.get(own, headers=as_admin).json()["data"]["buckets"][f"user-{user}"]
        assert exhausted["remaining"] == 0
        assert exhausted["rejected"] == 1
        reset = f"/rate-limit/reset/user-{user}"
        assert client.post(reset).status_code == 401
        assert client.post(reset, headers=as_user).status_code == 429  # still refused: no tokens
        done = client.post(reset, headers=as_admin)
        assert done.status_code == 200
        assert done.json()["data"]["buckets_removed"] == 1
        assert client.post(reset, headers=as_user).status_code == 403
    assert me(service, service.user).headers["x-ratelimit-remaining"] == "3"


def test_config_is_public_and_says_what_it_does(backend: BackendMaker) -> None:
    service = backend(**LIMITED)
    with service.client() as client:
        config = client.get("/rate-limit/config").json()["data"]
    assert config["burst_size"] == 5
    assert config["requests_per_minute"] == 6
    assert config["refill_per_second"] == 0.1
    assert config["backend"] == "redis"
    assert "/health" in config["exempt_paths"]


@pytest.mark.parametrize("identifier", ["user-x", "ip-", "user-1/../2", "everyone"])
def test_bad_identifiers_are_422(golive_http: httpx.Client, golive_admin_token: str, identifier: str) -> None:
    response = golive_http.get(
        f"/rate-limit/usage/{identifier}", headers={"Authorization": f"Bearer {golive_admin_token}"}
    )
    assert response.status_code in (404, 422)
    assert response.json()["status"] == "error"
