"""The resilience system as a whole: status and metrics for everyone, configuration for admins."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..resilience.config import ResilienceConfig, ResilienceConfigUpdate
from ..resilience.registry import ConfigUnavailable
from ..resources import Resources
from ..security import ADMIN_ONLY, CurrentAdmin
from .circuit_breakers import BreakerStatus, describe

router = APIRouter(prefix="/resilience", tags=["resilience"])


class RateLimiterStatus(BaseModel):
    enabled: bool
    backend: str
    degraded: bool


class ResilienceStatus(BaseModel):
    status: str
    replica: str
    circuit_breakers: dict[str, BreakerStatus]
    rate_limiter: RateLimiterStatus
    bulkheads: dict[str, dict[str, int]]
    shared_state_age_seconds: float | None
    config_source: str


@router.get("/status", response_model=Envelope[ResilienceStatus])
async def status(request: Request) -> object:
    resources: Resources = request.app.state.resources
    resilience, limiter = resources.resilience, resources.limiter
    enabled = resilience.config.circuit_breaker_enabled
    breakers = {name: describe(breaker, enabled) for name, breaker in resilience.breakers.items()}
    degraded = limiter.degraded or any(not breaker.shared for breaker in breakers.values())
    open_breakers = any(breaker.state != "CLOSED" for breaker in breakers.values())
    return ok(
        ResilienceStatus(
            status="degraded" if degraded or open_breakers else "operational",
            replica=resilience.replica,
            circuit_breakers=breakers,
            rate_limiter=RateLimiterStatus(
                enabled=resilience.config.rate_limit_enabled,
                backend="local" if limiter.degraded else "redis",
                degraded=limiter.degraded,
            ),
            bulkheads={
                name: {
                    "in_use": dep.bulkhead.in_use,
                    "limit": dep.bulkhead.limit,
                    "rejected": dep.bulkhead.rejected,
                }
                for name, dep in resilience.dependencies.items()
                if dep.bulkhead is not None
            },
            shared_state_age_seconds=round(time.time() - resilience.last_refresh, 3)
            if resilience.last_refresh
            else None,
            config_source=resilience.config_source,
        )
    )


@router.get("/metrics", response_model=Envelope[dict[str, object]])
async def metrics(request: Request) -> object:
    resources: Resources = request.app.state.resources
    resilience = resources.resilience
    return ok(
        {
            "replica": resilience.replica,
            "dependencies": {
                name: {**dependency.stats.summary(), "trips": dependency.breaker.view.trips}
                for name, dependency in resilience.dependencies.items()
            },
            "rate_limiter": dict(resources.limiter.decisions),
            "breaker_state_persistence": {
                "written": resilience.persister.written,
                "dropped": resilience.persister.dropped,
            },
        },
        "Counts since this replica started; trips are shared by all replicas",
    )


@router.get("/config", response_model=Envelope[ResilienceConfig])
async def get_config(request: Request) -> object:
    resources: Resources = request.app.state.resources
    return ok(resources.resilience.config)


@router.post(
    "/config",
    response_model=Envelope[ResilienceConfig],
    responses={
        503: {"description": "The shared store is unreachable: the change could not reach every replica"}
    },
    openapi_extra=ADMIN_ONLY,
)
async def update_config(update: ResilienceConfigUpdate, request: Request, admin: CurrentAdmin) -> object:
    resources: Resources = request.app.state.resources
    try:
        config = await resources.resilience.update_config(update.changes())
    except ConfigUnavailable as error:
        raise ApiError(
            503,
            "The change cannot reach every replica: shared store unavailable",
            ErrorCode.DEPENDENCY_UNAVAILABLE,
        ) from error
    return ok(config, "Resilience configuration updated on every replica")
