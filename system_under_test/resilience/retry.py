"""Retries with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff
And Jitter"): attempt n (from 1) waits uniform(0, min(cap, base * factor ** (n - 1))).

Only for calls that are safe to repeat: the caller decides, per call, and says why.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_factor: float
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Pause before attempt `attempt + 1`, after `attempt` failed ones."""
        ceiling = min(self.max_delay, self.base_delay * self.backoff_factor ** (attempt - 1))
        return rng.uniform(0, ceiling)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    should_retry: Callable[[Exception], bool],
    *,
    on_retry: Callable[[int, Exception], None] = lambda attempt, error: None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as error:
            if attempt >= policy.max_attempts or not should_retry(error):
                raise
            on_retry(attempt, error)
            await sleep(policy.delay(attempt, rng))
            attempt += 1
