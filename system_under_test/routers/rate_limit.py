"""Rate limit management: the configuration for everyone, usage for its owner and admins, reset
for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..middleware.rate_limit import EXEMPT_PATHS
from ..resilience.ratelimit import RateLimiter
from ..resources import Resources
from ..security import ADMIN_ONLY, CurrentAdmin, CurrentUser

router = APIRouter(prefix="/rate-limit", tags=["rate limiting"])

Identifier = Annotated[
    str,
    Path(
        pattern=r"^(user-[0-9]{1,18}|ip-[0-9A-Fa-f:.]{2,45})$",
        description="user-<id> for authenticated clients, ip-<address> for anonymous ones",
    ),
]


class RateLimitConfig(BaseModel):
    enabled: bool
    algorithm: str
    requests_per_minute: int
    burst_size: int
    refill_per_second: float
    per_endpoint: bool
    identifier: str
    trusted_proxies: list[str]
    exempt_paths: list[str]
    backend: str


def _limiter(request: Request) -> RateLimiter:
    resources: Resources = request.app.state.resources
    return resources.limiter


@router.get("/config", response_model=Envelope[RateLimitConfig])
async def config(request: Request) -> object:
    resources: Resources = request.app.state.resources
    settings = request.app.state.settings
    limit = resources.limiter.limit
    return ok(
        RateLimitConfig(
            enabled=resources.resilience.config.rate_limit_enabled,
            algorithm="token bucket: capacity burst_size, refilled at requests_per_minute / 60 per second",
            requests_per_minute=limit.per_minute,
            burst_size=limit.capacity,
            refill_per_second=round(limit.per_second, 6),
            per_endpoint=settings.rate_limit_per_endpoint,
            identifier="user-<id> with a valid bearer token, else ip-<address>",
            trusted_proxies=settings.rate_limit_trusted_proxies,
            exempt_paths=sorted(EXEMPT_PATHS),
            backend="local (Redis unavailable)" if resources.limiter.degraded else "redis",
        )
    )


@router.get(
    "/usage/{identifier}",
    response_model=Envelope[dict[str, object]],
    responses={403: {"description": "Another client's usage"}},
)
async def usage(identifier: Identifier, request: Request, principal: CurrentUser) -> object:
    if not principal.is_admin and identifier != f"user-{principal.user_id}":
        raise ApiError(403, "Only administrators may read another client's usage", ErrorCode.FORBIDDEN)
    return ok(await _limiter(request).usage(identifier))


@router.post("/reset/{identifier}", response_model=Envelope[dict[str, object]], openapi_extra=ADMIN_ONLY)
async def reset(identifier: Identifier, request: Request, admin: CurrentAdmin) -> object:
    removed = await _limiter(request).reset(identifier)
    return ok({"identifier": identifier, "buckets_removed": removed}, f"Rate limit for {identifier} reset")
