"""The token bucket: capacity RATE_LIMIT_BURST_SIZE, refilled continuously at
RATE_LIMIT_REQUESTS_PER_MINUTE / 60 tokens per second; a request takes one token or is refused.

So a client may send a burst of BURST_SIZE requests at once, then REQUESTS_PER_MINUTE per
minute sustained. `take` is the arithmetic; token_bucket.lua is the same arithmetic run inside
Redis (atomically, on Redis' clock), and this module's local buckets stand in while Redis is
unreachable.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace

# Between an identifier and the route of its per-endpoint bucket (user-5|GET /api/v1/content).
ENDPOINT_SEPARATOR = "|"


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: float
    since: float
    requests: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Limit:
    capacity: int
    per_minute: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60

    @property
    def window_seconds(self) -> int:
        """Time for an empty bucket to fill: the `w` of the IETF RateLimit-Policy."""
        return max(1, math.ceil(self.capacity / self.per_second))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # until the next token (0 when allowed)
    reset_after: float  # until the bucket is full again


def refill(bucket: Bucket | None, limit: Limit, now: float) -> Bucket:
    if bucket is None:
        return Bucket(tokens=limit.capacity, updated_at=now, since=now)
    tokens = min(limit.capacity, bucket.tokens + max(0.0, now - bucket.updated_at) * limit.per_second)
    return replace(bucket, tokens=tokens, updated_at=now)


def take(bucket: Bucket | None, limit: Limit, now: float, cost: int = 1) -> tuple[Bucket, Decision]:
    current = refill(bucket, limit, now)
    allowed = current.tokens >= cost
    current = replace(
        current,
        tokens=current.tokens - cost if allowed else current.tokens,
        requests=current.requests + 1,
        rejected=current.rejected + (0 if allowed else 1),
    )
    return current, decide(current, limit, allowed, cost)


def decide(bucket: Bucket, limit: Limit, allowed: bool, cost: int = 1) -> Decision:
    missing = max(0.0, cost - bucket.tokens)
    return Decision(
        allowed=allowed,
        remaining=math.floor(bucket.tokens),
        retry_after=0.0 if allowed else missing / limit.per_second,
        reset_after=(limit.capacity - bucket.tokens) / limit.per_second,
    )


class LocalBuckets:
    """Buckets of this process only (the degraded mode), bounded: the least recently used go."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str, limit: Limit, now: float) -> Decision:
        bucket, decision = take(self.buckets.get(key), limit, now)
        self.buckets[key] = bucket
        self.buckets.move_to_end(key)
        if len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        return decision

    def forget(self, prefix: str) -> None:
        for key in [
            key for key in self.buckets if key == prefix or key.startswith(prefix + ENDPOINT_SEPARATOR)
        ]:
            del self.buckets[key]
