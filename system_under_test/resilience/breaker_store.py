"""Where breaker state lives: Redis, shared by every replica, or this process (degraded/local).

Both apply the pure transitions of `breaker.py` to the stored state. The Redis store does it under
WATCH (optimistic concurrency: a transaction that raced another is retried on fresh state), with
Redis' own clock, so replicas agree on state and on time. One round of WATCH/GET/TIME/EXEC per
transition; nothing at all for calls that change nothing (see circuit.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError, WatchError

from .breaker import BreakerState

T = TypeVar("T")
Change = Callable[[BreakerState, float], tuple[BreakerState, T]]

KEY_PREFIX = "golive:breaker:"
_MAX_RACES = 200


class StoreUnavailable(Exception):
    """The shared store could not be reached; the caller falls back to local state."""


class BreakerStore(Protocol):
    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]: ...

    async def load(self, names: list[str]) -> dict[str, BreakerState | None]: ...

    async def seed(self, name: str, state: BreakerState) -> bool: ...


class MemoryBreakerStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.states: dict[str, BreakerState] = {}

    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]:
        state, result = change(self.states.get(name, BreakerState()), self.clock())
        self.states[name] = state
        return state, result

    async def load(self, names: list[str]) -> dict[str, BreakerState | None]:
        return {name: self.states.get(name) for name in names}

    async def seed(self, name: str, state: BreakerState) -> bool:
        if name in self.states:
            return False
        self.states[name] = state
        return True


class RedisBreakerStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]:
        key = KEY_PREFIX + name
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for _race in range(_MAX_RACES):
                    try:
                        await pipe.watch(key)
                        raw = await pipe.get(key)
                        seconds, micros = await pipe.time()
                        state = decode_state(raw) or BreakerState()
                        new, result = change(state, seconds + micros / 1e6)
                        if new == state:
                            await pipe.unwatch()  # type: ignore[no-untyped-call]
                            return state, result
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(key, encode_state(new))
                        await pipe.execute()
                        return new, result
                    except WatchError:
                        continue
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error
        raise StoreUnavailable(f"breaker {name}: gave up after {_MAX_RACES} racing updates")

    async def load(self, names: list[str]) -> dict[str, BreakerState | None]:
        try:
            values = await self.client.mget([KEY_PREFIX + name for name in names])
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error
        return {name: decode_state(raw) for name, raw in zip(names, values, strict=True)}

    async def seed(self, name: str, state: BreakerState) -> bool:
        """Stores `state` unless the key exists (restoring from the database after Redis lost it)."""
        try:
            return bool(await self.client.set(KEY_PREFIX + name, encode_state(state), nx=True))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error


def encode_state(state: BreakerState) -> str:
    return json.dumps(state.to_dict())


def decode_state(raw: bytes | str | None) -> BreakerState | None:
    if raw is None:
        return None
    try:
        return BreakerState.from_dict(json.loads(raw))
    except (ValueError, TypeError):
        return None  # a corrupt entry is treated as absent; the next transition overwrites it
