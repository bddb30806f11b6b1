"""Everything resilient in one replica: the dependencies with their breakers and bulkheads, the
runtime configuration, and the loop that keeps this replica's view of shared state fresh."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as redis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..logs import get_logger
from .background import Background
from .breaker import BreakerConfig, BreakerState
from .breaker_store import KEY_PREFIX, RedisBreakerStore, decode_state
from .bulkhead import Bulkhead
from .circuit import CircuitBreaker
from .config import ResilienceConfig
from .dependency import Dependency, DependencyMetrics
from .persistence import BreakerPersister
from .retry import RetryPolicy

logger = get_logger("system_under_test.resilience")

CONFIG_KEY = "golive:resilience:config"
# How often a replica re-reads shared state: the bound on how late it learns of another
# replica's trip or reset (the guide's deployments need "within 1 s").
REFRESH_SECONDS = 0.25


class ConfigUnavailable(Exception):
    pass


@dataclass(frozen=True)
class DependencySpec:
    """How to judge a dependency's errors: `is_failure` counts against its breaker; `is_transient`
    may be retried (if the call is idempotent). `bulkhead`: bound its concurrent calls."""

    is_failure: Callable[[Exception], bool]
    is_transient: Callable[[Exception], bool]
    bulkhead: bool


class Resilience:
    def __init__(
        self,
        config: ResilienceConfig,
        shared_client: redis.Redis,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics_registry: CollectorRegistry | None,
        specs: dict[str, DependencySpec],
    ) -> None:
        self.config = config
        self.client = shared_client
        self.store = RedisBreakerStore(shared_client)
        self.persister = BreakerPersister(sessionmaker)
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        metrics = DependencyMetrics(metrics_registry) if metrics_registry is not None else None
        self.dependencies: dict[str, Dependency] = {}
        for name, spec in specs.items():
            breaker = CircuitBreaker(
                name, self._breaker_config(), self.store, on_transition=self._transitioned
            )
            self.dependencies[name] = Dependency(
                name,
                breaker,
                Bulkhead(name, config.bulkhead_max_concurrent) if spec.bulkhead else None,
                is_failure=spec.is_failure,
                is_retryable=spec.is_transient,
                retry=self._retry_policy,
                breaker_enabled=lambda: self.config.circuit_breaker_enabled,
                metrics=metrics,
            )
        self.config_source = "settings"
        self.last_refresh: float | None = None
        self._background = Background("resilience-refresh")

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        return {name: dependency.breaker for name, dependency in self.dependencies.items()}

    def _breaker_config(self) -> BreakerConfig:
        return BreakerConfig(
            self.config.circuit_breaker_failure_threshold,
            self.config.circuit_breaker_timeout_seconds,
            self.config.circuit_breaker_half_open_max_calls,
        )

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.config.retry_max_attempts, self.config.retry_backoff_factor)

    def _transitioned(self, name: str, previous: BreakerState, state: BreakerState) -> None:
        self.persister.enqueue(name, state)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._restore()
        await self.refresh()
        self.persister.start()
        self._background.start(self._refresh_forever())

    async def stop(self) -> None:
        await self._background.stop()
        await self.persister.stop()

    async def _restore(self) -> None:
        """Breakers the shared store has forgotten (Redis restarted too) come back from the
        database. Best effort, bounded: start-up must not hang on a sick dependency."""
        try:
            persisted = await asyncio.wait_for(self.persister.load(), 3)
            for name, state in persisted.items():
                if name in self.dependencies and await self.store.seed(name, state):
                    logger.info("breaker state restored", breaker=name, state=state.state.value)
        except Exception as error:
            logger.warning("breaker state not restored", error_type=type(error).__name__)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.refresh()

    async def refresh(self) -> None:
        names = list(self.dependencies)
        adopted = {name: self.dependencies[name].breaker.adopted for name in names}
        try:
            # The store's time with the state: breakers compare its instants on its clock.
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.mget([*(KEY_PREFIX + name for name in names), CONFIG_KEY])
                pipe.time()
                raw, (seconds, micros) = await pipe.execute()
        except (RedisError, OSError):
            for breaker in self.breakers.values():
                breaker.go_local()
            return
        self.last_refresh = time.time()
        store_now = seconds + micros / 1e6
        for name, value in zip(names, raw[:-1], strict=True):
            breaker = self.dependencies[name].breaker
            if breaker.degraded:  # shared again: what it did alone is merged into the shared state
                await breaker.rejoin(store_now=store_now)
            else:
                breaker.observe(decode_state(value), store_now=store_now, adopted_when_read=adopted[name])
        self._apply_overrides(raw[-1])

    # --- runtime configuration -----------------------------------------------------------------

    def _apply_overrides(self, raw: bytes | str | None) -> None:
        overrides = json.loads(raw) if raw else {}
        wanted = self.config.model_copy(update=overrides) if overrides else self.config
        if overrides:
            self.config_source = "runtime"
        if wanted != self.config:
            self._apply(ResilienceConfig.model_validate(wanted.model_dump()))

    def _apply(self, config: ResilienceConfig) -> None:
        self.config = config
        for dependency in self.dependencies.values():
            dependency.breaker.config = self._breaker_config()
            if dependency.bulkhead is not None:
                dependency.bulkhead.limit = config.bulkhead_max_concurrent

    async def update_config(self, changes: dict[str, object]) -> ResilienceConfig:
        """Validates, shares (every replica applies it at its next refresh) and applies here."""
        merged = ResilienceConfig.model_validate({**self.config.model_dump(), **changes})
        try:
            current = await self.client.get(CONFIG_KEY)
            overrides = {**(json.loads(current) if current else {}), **changes}
            await self.client.set(CONFIG_KEY, json.dumps(overrides))
        except (RedisError, OSError) as error:
            raise ConfigUnavailable(str(error)) from error
        self.config_source = "runtime"
        self._apply(merged)
        return merged
