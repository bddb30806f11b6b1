"""What the current request is: its id and when it started. Set by the request-context middleware."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


current_request: ContextVar[RequestContext | None] = ContextVar("current_request", default=None)
