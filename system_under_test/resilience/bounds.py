"""The runtime-changeable resilience settings' types, each declared once with its bounds.

`Settings` (start-up), `ResilienceConfig` and `ResilienceConfigUpdate` (POST /resilience/config)
all annotate their fields with these, so a value accepted at start-up is accepted at runtime and
the other way round. The bounds are what the parts using the values can take: the token bucket's
Lua arithmetic, a retry loop that still ends within a request, a breaker wait of at most a day.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

FailureThreshold = Annotated[int, Field(gt=0, le=10_000)]
BreakerTimeoutSeconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
HalfOpenMaxCalls = Annotated[int, Field(gt=0, le=1_000)]
RequestsPerMinute = Annotated[int, Field(gt=0, le=1_000_000)]
BurstSize = Annotated[int, Field(gt=0, le=1_000_000)]
RetryMaxAttempts = Annotated[int, Field(gt=0, le=10)]
RetryBackoffFactor = Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)]
BulkheadMaxConcurrent = Annotated[int, Field(gt=0, le=10_000)]
