"""Circuit breaker management: status for everyone (as the guide's troubleshooting reads it),
reset for administrators."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..fields import UtcDatetime
from ..resilience.circuit import CircuitBreaker
from ..resilience.registry import Resilience
from ..security import ADMIN_ONLY, CurrentAdmin

router = APIRouter(prefix="/circuit-breakers", tags=["circuit breakers"])


class BreakerStatus(BaseModel):
    name: str
    state: Literal["CLOSED", "OPEN", "HALF_OPEN"]
    enabled: bool
    failure_count: int
    last_failure_time: UtcDatetime | None
    next_attempt_time: UtcDatetime | None
    trips: int
    half_open_trials_in_flight: int
    failure_threshold: int
    timeout_seconds: float
    half_open_max_calls: int
    shared: bool


class MemoryUsage(BaseModel):
    breakers_bytes: int
    process_rss_bytes: int | None


class BreakersStatus(BaseModel):
    breakers: dict[str, BreakerStatus]
    memory_usage: MemoryUsage


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def describe(breaker: CircuitBreaker, enabled: bool) -> BreakerStatus:
    view = breaker.view
    return BreakerStatus(
        name=breaker.name,
        state=view.state.value,
        enabled=enabled,
        failure_count=view.failure_count,
        last_failure_time=_moment(view.last_failure_at),
        next_attempt_time=_moment(view.next_attempt_at),
        trips=view.trips,
        half_open_trials_in_flight=view.trials_in_flight,
        failure_threshold=breaker.config.failure_threshold,
        timeout_seconds=breaker.config.open_seconds,
        half_open_max_calls=breaker.config.half_open_max_calls,
        shared=not breaker.degraded,
    )


def _rss_bytes() -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _breaker(request: Request, name: str) -> tuple[Resilience, CircuitBreaker]:
    resilience: Resilience = request.app.state.resources.resilience
    if name not in resilience.breakers:
        raise ApiError(404, f"No circuit breaker named {name!r}", ErrorCode.NOT_FOUND)
    return resilience, resilience.breakers[name]


@router.get("/status", response_model=Envelope[BreakersStatus])
async def all_status(request: Request) -> object:
    resilience: Resilience = request.app.state.resources.resilience
    enabled = resilience.config.circuit_breaker_enabled
    breakers = {name: describe(breaker, enabled) for name, breaker in resilience.breakers.items()}
    # What the breakers themselves hold (the guide's troubleshooting looks for leaks here), and
    # the process as a whole for comparison.
    own = sum(
        sys.getsizeof(breaker.view) + sys.getsizeof(breaker.local.states)
        for breaker in resilience.breakers.values()
    )
    return ok(
        BreakersStatus(
            breakers=breakers, memory_usage=MemoryUsage(breakers_bytes=own, process_rss_bytes=_rss_bytes())
        )
    )


@router.get(
    "/{name}/status",
    response_model=Envelope[BreakerStatus],
    responses={404: {"description": "No such breaker"}},
)
async def one_status(name: str, request: Request) -> object:
    resilience, breaker = _breaker(request, name)
    return ok(describe(breaker, resilience.config.circuit_breaker_enabled))


@router.post(
    "/{name}/reset",
    response_model=Envelope[BreakerStatus],
    responses={404: {"description": "No such breaker"}},
    openapi_extra=ADMIN_ONLY,
)
async def reset(name: str, request: Request, admin: CurrentAdmin) -> object:
    resilience, breaker = _breaker(request, name)
    await breaker.reset()
    return ok(describe(breaker, resilience.config.circuit_breaker_enabled), f"Circuit breaker {name!r} reset")
