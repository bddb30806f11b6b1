"""The app's connections to the outside world, opened in the lifespan and closed after it."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from system_under_test.ai_service import AiServiceClient
from system_under_test.db.session import create_engine, create_sessionmaker
from system_under_test.settings import Settings


@dataclass
class Resources:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: redis.Redis
    ai_service: AiServiceClient

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        # Nothing here connects yet: the app starts even while a dependency is down, and says so
        # in /health, as a Kubernetes readiness probe expects.
        engine = create_engine(settings)
        timeout = settings.database_timeout_seconds
        return cls(
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=redis.Redis.from_url(
                str(settings.redis_url), socket_timeout=timeout, socket_connect_timeout=timeout
            ),
            ai_service=AiServiceClient(str(settings.ai_service_url), settings.ai_service_timeout_seconds),
        )

    async def close(self) -> None:
        await self.ai_service.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
