"""The app's connections to the outside world: built with the app (create_app hands them to the
middleware that needs them), started in its lifespan and closed after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as redis
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .ai_service import AiServiceClient, is_ai_failure, is_ai_transient
from .db.metrics import count_rate_limit_hit
from .db.session import create_engine, create_sessionmaker
from .errors import is_dependency_failure
from .logs import get_logger
from .realtime.pusher_gateway import is_pusher_failure
from .realtime.service import Realtime
from .redis_clients import redis_client
from .resilience.config import ResilienceConfig
from .resilience.ratelimit import RateLimiter
from .resilience.registry import DependencySpec, Resilience
from .resilience.token_bucket import Limit
from .settings import Settings

# Shared resilience state is read four times a second and on every transition: a slow Redis must
# not stall calls for long before the breakers fall back to local state.
RESILIENCE_REDIS_TIMEOUT_SECONDS = 0.5

AI_SERVICE, DATABASE, REDIS, PUSHER = "ai-service", "database", "redis", "pusher"
logger = get_logger("system_under_test.resources")


def _database_failure(error: Exception) -> bool:
    return is_dependency_failure(error)


def _redis_failure(error: Exception) -> bool:
    return isinstance(error, RedisConnectionError | RedisTimeoutError | OSError)


def _never(error: Exception) -> bool:
    return False


@dataclass
class Resources:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: redis.Redis
    ai_service: AiServiceClient
    resilience: Resilience
    limiter: RateLimiter
    realtime: Realtime

    @classmethod
    def open(cls, settings: Settings, metrics_registry: CollectorRegistry | None) -> Resources:
        # Nothing here connects yet: the app starts even while a dependency is down, and says so
        # in /health, as a Kubernetes readiness probe expects.
        engine = create_engine(settings)
        timeout = settings.database_timeout_seconds
        sessionmaker = create_sessionmaker(engine)
        shared = redis_client(str(settings.redis_url), RESILIENCE_REDIS_TIMEOUT_SECONDS)
        resilience = Resilience(
            ResilienceConfig.from_settings(settings),
            shared,
            sessionmaker,
            metrics_registry,
            specs={
                # The AI service can hang for seconds: its calls get a bulkhead. Postgres and Redis
                # answer in milliseconds and their connection pools already bound concurrency;
                # shedding such calls would turn bursts into errors. Database work is a
                # transaction and Redis work a token taken: neither is ever repeated.
                AI_SERVICE: DependencySpec(is_ai_failure, is_ai_transient, bulkhead=True),
                DATABASE: DependencySpec(_database_failure, _never, bulkhead=False),
                REDIS: DependencySpec(_redis_failure, _never, bulkhead=False),
                # Publishing runs in a background worker, one batch at a time: nothing to bound.
                # An event sent twice would be shown twice: never repeated.
                PUSHER: DependencySpec(is_pusher_failure, _never, bulkhead=False),
            },
        )

        def limit() -> Limit:
            return Limit(
                resilience.config.rate_limit_burst_size, resilience.config.rate_limit_requests_per_minute
            )

        return cls(
            engine=engine,
            sessionmaker=sessionmaker,
            redis=redis_client(str(settings.redis_url), timeout),
            ai_service=AiServiceClient(str(settings.ai_service_url), settings.ai_service_timeout_seconds),
            resilience=resilience,
            limiter=RateLimiter(shared, resilience.dependencies[REDIS], sessionmaker, limit),
            realtime=Realtime.open(settings, resilience.dependencies[PUSHER], resilience.dependencies[REDIS]),
        )

    async def start(self) -> None:
        await self.resilience.start()
        self.limiter.start()
        self.realtime.start()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session that is one call through the database's bulkhead and breaker."""
        async with self.resilience.dependencies[DATABASE].guard(), self.sessionmaker() as session:
            yield session

    async def count_rate_limit_hit(self, agent: str) -> None:
        try:
            async with self.sessionmaker() as session:
                await asyncio.wait_for(session.execute(count_rate_limit_hit(agent)), 2)
                await session.commit()
        except Exception as error:
            logger.warning("rate limit hit not counted", agent=agent, error_type=type(error).__name__)

    async def close(self) -> None:
        await self.realtime.close()
        await self.limiter.stop()
        await self.resilience.stop()
        await self.ai_service.aclose()
        await self.resilience.client.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
