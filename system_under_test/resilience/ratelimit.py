"""The rate limiter: one atomic Redis script per request, exact across replicas; local buckets
while Redis is unreachable (or its breaker open), never an error of its own.

Identifiers: `user-<id>` for a request with a valid bearer token, else `ip-<address>`, where the
address is the peer's unless the peer is a trusted proxy (RATE_LIMIT_TRUSTED_PROXIES), in which
case X-Forwarded-For is walked from the right to the first untrusted hop. With
RATE_LIMIT_PER_ENDPOINT, each route template has its own bucket (`<identifier>|<METHOD> <route>`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import RateLimitState
from ..envelope import ApiError
from ..logs import get_logger
from .background import Background
from .dependency import Dependency
from .token_bucket import (
    ENDPOINT_SEPARATOR,
    Bucket,
    Decision,
    Limit,
    LocalBuckets,
    decide,
    refill,
)

logger = get_logger("system_under_test.rate_limit")
KEY_PREFIX = "golive:rl:"
_SCRIPT = (Path(__file__).parent / "token_bucket.lua").read_text()
_FLUSH_SECONDS = 5.0
_MAX_TOUCHED = 10_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(value, strict=False) for value in values]


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address to limit: the peer's, unless the peer is a trusted proxy; then the nearest hop
    in X-Forwarded-For that is not itself trusted. Never the leftmost entry, which anyone can write."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    address = peer or "unknown"
    if not forwarded_for or not is_trusted(address):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage in the header: the proxy did not write that hop
        address = hop
    return address


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        redis_dependency: Dependency,
        sessionmaker: async_sessionmaker[AsyncSession],
        limit: Callable[[], Limit],
    ) -> None:
        self.client = client
        self.script = client.register_script(_SCRIPT)
        self.redis = redis_dependency
        self.sessionmaker = sessionmaker
        self._limit = limit
        self.local = LocalBuckets()
        self.degraded = False
        self.decisions = {"allowed": 0, "rejected": 0, "local": 0}
        self.touched: set[str] = set()
        self._background = Background("rate-limit-flush")

    @property
    def limit(self) -> Limit:
        return self._limit()

    async def check(self, key: str) -> Decision:
        limit = self.limit
        try:
            allowed, tokens, now = await self.redis.call(
                lambda: self.script(keys=[KEY_PREFIX + key], args=[limit.capacity, limit.per_second, 1])
            )
            self.degraded = False
            decision = decide(Bucket(float(tokens), float(now), float(now)), limit, bool(allowed))
            if len(self.touched) < _MAX_TOUCHED:
                self.touched.add(key)
        except (ApiError, RedisError, OSError) as error:
            # Breaker open, bulkhead full or Redis failing: limit locally rather than not at all.
            if not self.degraded:
                logger.warning("rate limiter degraded to local buckets", error_type=type(error).__name__)
            self.degraded = True
            self.decisions["local"] += 1
            decision = self.local.take(key, limit, time.monotonic())
        self.decisions["allowed" if decision.allowed else "rejected"] += 1
        return decision

    async def usage(self, identifier: str) -> dict[str, object]:
        """The identifier's bucket (and its per-endpoint buckets) as Redis holds it now, else as
        the database last saw it."""
        limit = self.limit
        try:
            keys = [KEY_PREFIX + identifier]
            async for key in self.client.scan_iter(
                match=f"{KEY_PREFIX}{identifier}{ENDPOINT_SEPARATOR}*", count=500
            ):
                keys.append(key.decode() if isinstance(key, bytes) else key)
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                pipe.time()
                *stored, (seconds, micros) = await pipe.execute()
            now = seconds + micros / 1e6
            buckets = {
                key.removeprefix(KEY_PREFIX): _bucket(raw) for key, raw in zip(keys, stored, strict=True)
            }
            source = "redis"
        except (RedisError, OSError):
            buckets, now, source = (
                await self._persisted(identifier),
                datetime.now(UTC).timestamp(),
                "database",
            )
        return {
            "identifier": identifier,
            "source": source,
            "limit": limit.capacity,
            "per_minute": limit.per_minute,
            "buckets": {key: _describe(bucket, limit, now) for key, bucket in buckets.items()},
        }

    async def reset(self, identifier: str) -> int:
        """Forgets the identifier's buckets everywhere they are kept; returns how many were found."""
        self.local.forget(identifier)
        removed = 0
        try:
            keys = [KEY_PREFIX + identifier]
            async for key in self.client.scan_iter(
                match=f"{KEY_PREFIX}{identifier}{ENDPOINT_SEPARATOR}*", count=500
            ):
                keys.append(key)
            removed = int(await self.client.delete(*keys))
        finally:
            async with self.sessionmaker() as session:
                await session.execute(
                    delete(RateLimitState).where(
                        (RateLimitState.identifier == identifier)
                        | RateLimitState.identifier.startswith(identifier + ENDPOINT_SEPARATOR)
                    )
                )
                await session.commit()
        return removed

    # --- the persisted view in rate_limit_state ------------------------------------------------

    def start(self) -> None:
        self._background.start(self._flush_forever())

    async def stop(self) -> None:
        await self._background.stop()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            try:
                await asyncio.wait_for(self.flush(), _FLUSH_SECONDS)
            except Exception as error:
                logger.warning("rate limit state not persisted", error_type=type(error).__name__)

    async def flush(self) -> None:
        touched, self.touched = self.touched, set()
        if not touched:
            return
        keys = sorted(touched)
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(KEY_PREFIX + key)
            stored = await pipe.execute()
        rows = [
            (key, bucket)
            for key, raw in zip(keys, stored, strict=True)
            if (bucket := _bucket(raw)) is not None
        ]
        if not rows:
            return
        async with self.sessionmaker() as session:
            for key, bucket in rows:
                values = {
                    "tokens": bucket.tokens,
                    "last_refill": _naive(bucket.updated_at),
                    "window_start": _naive(bucket.since),
                    "request_count": bucket.requests,
                    "updated_at": datetime.now(UTC).replace(tzinfo=None),
                }
                statement = insert(RateLimitState).values(identifier=key, **values)
                await session.execute(
                    statement.on_conflict_do_update(index_elements=["identifier"], set_=values)
                )
            await session.commit()

    async def _persisted(self, identifier: str) -> dict[str, Bucket | None]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(RateLimitState).where(
                    (RateLimitState.identifier == identifier)
                    | RateLimitState.identifier.startswith(identifier + ENDPOINT_SEPARATOR)
                )
            )
            return {
                row.identifier: Bucket(
                    tokens=row.tokens or 0.0,
                    updated_at=_seconds(row.last_refill),
                    since=_seconds(row.window_start),
                    requests=row.request_count or 0,
                )
                for row in rows
            } or {identifier: None}


def _bucket(raw: dict[bytes, bytes] | None) -> Bucket | None:
    if not raw:
        return None
    values = {key.decode(): value.decode() for key, value in raw.items()}
    return Bucket(
        tokens=float(values["tokens"]),
        updated_at=float(values["ts"]),
        since=float(values.get("since", values["ts"])),
        requests=int(values.get("requests", 0)),
        rejected=int(values.get("rejected", 0)),
    )


def _describe(bucket: Bucket | None, limit: Limit, now: float) -> dict[str, object]:
    current = refill(bucket, limit, now)
    decision = decide(current, limit, allowed=True)
    return {
        "remaining": decision.remaining,
        "tokens": round(current.tokens, 3),
        "reset_seconds": round(decision.reset_after, 3),
        "requests": current.requests,
        "rejected": current.rejected,
        "first_seen": _iso(bucket.since) if bucket else None,
        "last_seen": _iso(bucket.updated_at) if bucket else None,
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _naive(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _seconds(moment: datetime | None) -> float:
    return moment.replace(tzinfo=UTC).timestamp() if moment else 0.0
