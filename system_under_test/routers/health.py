"""GET /health: the process answers while it can serve; dependency trouble is reported inside.

HEAD /health answers the same without the body: uptime monitors and load balancers probe with HEAD.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from .. import __version__
from ..envelope import Envelope, ok
from ..resources import Resources

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_SECONDS = 2.0


class DependencyHealth(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    version: str
    uptime_seconds: float
    dependencies: dict[str, DependencyHealth]


async def _probe(check: Callable[[], Awaitable[object]]) -> DependencyHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), _CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        # The type is enough for an operator; the message may hold hosts or credentials.
        reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
        return DependencyHealth(status="down", latency_ms=_ms_since(started), error=reason)
    return DependencyHealth(status="up", latency_ms=_ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@router.get("/health", response_model=Envelope[Health])
@router.head(
    "/health", response_model=None, responses={200: {"description": "As GET /health, without the body"}}
)
async def health(request: Request) -> object:
    resources: Resources = request.app.state.resources

    async def database() -> None:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis() -> None:
        await resources.redis.ping()

    names = ("database", "redis", "upstream")
    results = await asyncio.gather(*(_probe(check) for check in (database, redis, resources.ai_service.ping)))
    dependencies = dict(zip(names, results, strict=True))
    healthy = all(item.status == "up" for item in results)
    body = Health(
        status="healthy" if healthy else "degraded",
        version=__version__,
        uptime_seconds=round(time.monotonic() - request.app.state.started, 3),
        dependencies=dependencies,
    )
    return ok(body, "Service is healthy" if healthy else "Service is degraded")
