"""Rate limiting for every request, before routing: a token bucket per client (see
resilience/ratelimit.py for the identifiers and resilience/token_bucket.py for the arithmetic).

Every limited response carries the quota: X-RateLimit-Limit/-Remaining/-Reset and the IETF
RateLimit-Policy/RateLimit fields (draft-ietf-httpapi-ratelimit-headers). A refusal is a 429
envelope (RATE_LIMIT_EXCEEDED) with Retry-After, sent here: middleware answers, it never raises.

Every collaborator is given when the app is built (create_app), as Starlette's own middleware
takes them: the limiter, the switch (the runtime resilience config, which an admin may change
while the app runs, so it is asked on every request), the hit counter, the JWT config and the
route table. Nothing is looked up on the app per request.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Coroutine, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..envelope import ApiError, ErrorCode, error_response
from ..logs import get_logger
from ..resilience.ratelimit import RateLimiter, client_address, parse_networks
from ..resilience.token_bucket import ENDPOINT_SEPARATOR, Decision, Limit
from ..security import JwtConfig, decode_token, remember_principal
from .routes import RouteTable

logger = get_logger("system_under_test.rate_limit")

# Probes and scrapes must never be throttled: a limited /health takes a healthy pod out of service,
# and a throttled breaker status blinds the dashboards and monitors watching an incident.
EXEMPT_PATHS = frozenset({"/health", "/metrics", "/circuit-breakers/status"})
GENERATE_PATH = "/api/v1/content/generate"
DEFAULT_AGENT = "content-generator"


EXPOSED_QUOTA_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)


def quota_headers(limit: Limit, decision: Decision) -> dict[str, str]:
    until = decision.reset_after if decision.allowed else decision.retry_after
    return {
        "X-RateLimit-Limit": str(limit.capacity),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(math.ceil(decision.reset_after)),
        "RateLimit-Policy": f'"burst";q={limit.capacity};w={limit.window_seconds}',
        "RateLimit": f'"burst";r={decision.remaining};t={math.ceil(until)}',
    }


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        enabled: Callable[[], bool],
        hit_counter: Callable[[str], Coroutine[None, None, None]],
        jwt_config: JwtConfig,
        routes: RouteTable,
        trusted_proxies: Sequence[str],
        per_endpoint: bool,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.enabled = enabled
        self.hit_counter = hit_counter  # a refused generation, per agent (agent_metrics.rate_limit_hits)
        self.jwt_config = jwt_config
        self.routes = routes
        self.trusted = parse_networks(trusted_proxies)
        self.per_endpoint = per_endpoint
        self._pending: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if not self.enabled():
            await self.app(scope, receive, send)
            return
        limit = self.limiter.limit
        decision = await self.limiter.check(self.identify(scope))
        headers = quota_headers(limit, decision)
        if not decision.allowed:
            await self._refuse(scope, receive, send, headers, decision)
            return

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_quota)

    def identify(self, scope: Scope) -> str:
        headers = Headers(scope=scope)
        identifier = None
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                principal = decode_token(self.jwt_config, token.strip())
            except ApiError:
                identifier = None  # a bad token is limited as its address; auth refuses it later
            else:
                identifier = f"user-{principal.user_id}"
                remember_principal(scope, token.strip(), principal)
        if identifier is None:
            peer = scope.get("client")
            identifier = "ip-" + client_address(
                peer[0] if peer else None, headers.get("x-forwarded-for"), self.trusted
            )
        if self.per_endpoint:
            identifier += ENDPOINT_SEPARATOR + self._endpoint(scope)
        return identifier

    def _endpoint(self, scope: Scope) -> str:
        # The route template, not the raw path: /content/1 and /content/2 share one bucket, and
        # case or trailing tricks on the path cannot mint new ones.
        for route in self.routes.templates:
            if scope["method"] in route.methods and route.pattern.fullmatch(scope["path"]):
                return f"{scope['method']} {route.template}"
        return f"{scope['method']} unmatched"

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], decision: Decision
    ) -> None:
        retry_after = max(1, math.ceil(decision.retry_after))
        error = ApiError(
            429,
            "Rate limit exceeded",
            ErrorCode.RATE_LIMIT_EXCEEDED,
            headers={**headers, "Retry-After": str(retry_after)},
            details={"retry_after_seconds": retry_after},
        )
        if scope["method"] == "POST" and scope["path"] == GENERATE_PATH:
            agent = await self._agent_of(receive)
            self._count_hit(agent)
        await error_response(error)(scope, receive, send)

    @staticmethod
    async def _agent_of(receive: Receive) -> str:
        """The agent a refused generation was for (agent_metrics.rate_limit_hits): read from the
        body, which the body limit has already bounded."""
        body = b""
        try:
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            agent = json.loads(body).get("agent", DEFAULT_AGENT)
            return (
                agent
                if isinstance(agent, str) and agent.isprintable() and len(agent) <= 100
                else DEFAULT_AGENT
            )
        except Exception:
            return DEFAULT_AGENT

    def _count_hit(self, agent: str) -> None:
        # Off the request path: a refusal must stay cheap, and a failing database must not turn it
        # into anything else.
        task = asyncio.get_running_loop().create_task(self.hit_counter(agent))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
