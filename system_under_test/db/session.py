"""Engine and session factory for the app's one database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    timeout = settings.database_timeout_seconds
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_timeout=timeout,
        pool_pre_ping=True,
        connect_args={
            "timeout": timeout,
            "command_timeout": timeout,
            "server_settings": {"application_name": "golive-sut"},
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.resources.session() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_session)]
