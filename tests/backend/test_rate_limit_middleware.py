"""The rate-limit middleware in process, built from its constructor arguments alone: the app it
wraps holds no resources in its state, so a middleware that still looked its collaborators up on
the app per request would fail here. Redis is unreachable, so the limiter limits locally, as it
does degraded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from golive.core import http_clients
from golive.fixtures.backend import Backend
from golive.fixtures.openapi import offline_settings
from golive.system_under_test.middleware.rate_limit import GENERATE_PATH, RateLimitMiddleware
from golive.system_under_test.middleware.routes import RouteTable
from golive.system_under_test.resources import Resources
from golive.system_under_test.security import JwtConfig, Principal, Role, issue_token

BURST = 2


class Switch:
    """The runtime config's rate_limit_enabled, as the middleware asks for it: per request."""

    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> bool:
        return self.on


class Harness:
    def __init__(
        self, client: httpx.AsyncClient, middleware: RateLimitMiddleware, switch: Switch, hits: list[str]
    ) -> None:
        self.client = client
        self.middleware = middleware
        self.switch = switch
        self.hits = hits  # the agents whose refused generations were counted


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = offline_settings(Backend.current()).model_copy(
        update={"rate_limit_burst_size": BURST, "rate_limit_requests_per_minute": 1}
    )
    resources = Resources.open(settings, None)
    switch = Switch()
    inner = Starlette(routes=[Route("/items", ok), Route(GENERATE_PATH, ok, methods=["POST"])])
    hits: list[str] = []

    async def count(agent: str) -> None:
        hits.append(agent)

    middleware = RateLimitMiddleware(
        inner,
        limiter=resources.limiter,
        enabled=switch,
        hit_counter=count,
        jwt_config=JwtConfig.from_settings(settings),
        routes=RouteTable(lambda: {"paths": {"/items": {"get": {}}}}),
        trusted_proxies=[],
        per_endpoint=False,
    )
    transport = httpx.ASGITransport(app=middleware)
    try:
        async with http_clients.AsyncClient(transport=transport, base_url="http://backend") as client:
            yield Harness(client, middleware, switch, hits)
    finally:
        await resources.close()


async def test_the_burst_passes_with_its_quota_then_a_429_with_retry_after(harness: Harness) -> None:
    answers = [await harness.client.get("/items") for _ in range(BURST + 1)]
    assert [answer.status_code for answer in answers] == [200] * BURST + [429]
    assert answers[0].headers["X-RateLimit-Limit"] == str(BURST)
    assert answers[0].headers["RateLimit-Policy"] == f'"burst";q={BURST};w=120'
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["metadata"]["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert harness.middleware.limiter.degraded  # Redis is unreachable: local buckets


async def test_the_switch_is_asked_on_every_request(harness: Harness) -> None:
    for _ in range(BURST):
        await harness.client.get("/items")
    harness.switch.on = False
    answer = await harness.client.get("/items")
    assert answer.status_code == 200
    assert "X-RateLimit-Limit" not in answer.headers
    harness.switch.on = True
    assert (await harness.client.get("/items")).status_code == 429


async def test_a_refused_generation_is_counted_for_its_agent(harness: Harness) -> None:
    for _ in range(BURST):
        await harness.client.post(GENERATE_PATH, json={"agent": "quiz-maker"})
    refused = await harness.client.post(GENERATE_PATH, json={"agent": "quiz-maker"})
    assert refused.status_code == 429
    await asyncio.gather(*harness.middleware._pending)  # counted off the request path
    assert harness.hits == ["quiz-maker"]


async def test_a_valid_token_is_limited_as_its_user_not_its_address(harness: Harness) -> None:
    for _ in range(BURST + 1):
        await harness.client.get("/items")
    config = JwtConfig.from_settings(offline_settings(Backend.current()))
    token, _ = issue_token(config, Principal(7, "ada", Role.USER))
    answer = await harness.client.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200  # the user's own bucket, full, not the address's, empty
