"""Generations whose request died before storing an outcome (a replica killed, the database cut
while it ran) would stay `processing` forever: each replica marks them failed once they are older
than CONTENT_JOB_TIMEOUT_SECONDS, at start-up and then periodically. Several replicas reaping at
once is harmless: it is one conditional UPDATE."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import exists, func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.metrics import utcnow
from .db.models import Content, IdempotencyKey
from .logs import get_logger
from .resilience.background import Background

logger = get_logger("system_under_test.job_reaper")

# Often enough that a stale job is not left long past its timeout; rarely enough to cost nothing.
_LONGEST_PAUSE_SECONDS = 60.0


def abandoned_reason(timeout_seconds: float) -> str:
    return f"Abandoned: no outcome stored within {timeout_seconds:g} s (its request ended early)"


async def reap_stale_jobs(sessionmaker: async_sessionmaker[AsyncSession], timeout_seconds: float) -> int:
    """Marks failed every job `processing` for longer than the timeout; how many it marked."""
    age = timedelta(seconds=timeout_seconds)
    # A retry under an Idempotency-Key carries an old job on: its claim's time is the job's start.
    retried_recently = exists().where(
        IdempotencyKey.content_id == Content.id,
        IdempotencyKey.status == "in_flight",
        IdempotencyKey.updated_at > utcnow() - age,
    )
    async with sessionmaker() as session:
        result = await session.execute(
            update(Content)
            .where(
                Content.status == "processing",
                # created_at is the database's now(), so it is compared with the database's clock.
                Content.created_at < func.now() - age,
                ~retried_recently,
            )
            .values(status="failed", error=abandoned_reason(timeout_seconds), completed_at=utcnow())
            .returning(Content.id)
        )
        reaped = len(result.all())
        await session.commit()
    return reaped


class JobReaper:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], timeout_seconds: float) -> None:
        self.sessionmaker = sessionmaker
        self.timeout_seconds = timeout_seconds
        self.pause_seconds = min(timeout_seconds / 4, _LONGEST_PAUSE_SECONDS)
        self._background = Background("job-reaper")

    def start(self) -> None:
        self._background.start(self._loop())

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        while True:
            try:
                reaped = await reap_stale_jobs(self.sessionmaker, self.timeout_seconds)
            except Exception as error:
                # The database may be down: the next pass tries again.
                logger.warning("stale jobs not reaped", error_type=type(error).__name__)
            else:
                if reaped:
                    logger.warning("stale jobs marked failed", count=reaped)
            await asyncio.sleep(self.pause_seconds)
