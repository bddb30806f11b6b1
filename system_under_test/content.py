"""Content generation: store the job, ask the AI service, store the outcome, count it per agent."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from system_under_test.ai_service import AiServiceClient
from system_under_test.db.models import AgentMetric, Content
from system_under_test.envelope import ApiError


def utcnow() -> datetime:
    """Naive UTC, as the guide's TIMESTAMP (without time zone) columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)


async def generate(
    sessionmaker: async_sessionmaker[AsyncSession],
    ai_service: AiServiceClient,
    *,
    user_id: int,
    prompt: str,
    content_type: str,
    agent: str,
    request_id: str,
) -> Content:
    """Runs one generation to its end. The job row exists before the AI service is called, so a
    crash or a failed call leaves a trace; a failed call marks the job failed and re-raises."""
    job = Content(
        id=uuid.uuid4(), user_id=user_id, prompt=prompt, content_type=content_type, status="processing"
    )
    async with sessionmaker() as session:
        session.add(job)
        await session.commit()

    started = time.perf_counter()
    try:
        generation = await ai_service.generate(prompt, content_type, request_id)
    except ApiError as error:
        await _finish(sessionmaker, job, agent, started, error=error.message)
        error.details = {**(error.details or {}), "content_id": str(job.id)}
        raise
    job.result, job.model = generation.content, generation.model
    await _finish(sessionmaker, job, agent, started, error=None)
    return job


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Content,
    agent: str,
    started: float,
    error: str | None,
) -> None:
    elapsed = time.perf_counter() - started
    job.status, job.error, job.completed_at = ("failed" if error else "completed"), error, utcnow()
    outcome = {"status": job.status, "result": job.result, "model": job.model, "error": error}
    async with sessionmaker() as session:
        # A plain UPDATE: merge() would first SELECT the row it is about to overwrite.
        await session.execute(
            update(Content).where(Content.id == job.id).values(**outcome, completed_at=job.completed_at)
        )
        await session.execute(_count_call(agent, elapsed, failed=error is not None))
        await session.commit()


def _count_call(agent: str, elapsed: float, failed: bool) -> Insert:
    statement = insert(AgentMetric).values(
        agent_name=agent,
        requests_total=1,
        errors_total=int(failed),
        last_seen_at=utcnow(),
        avg_response_time=elapsed,
    )
    current = AgentMetric
    return statement.on_conflict_do_update(
        index_elements=[current.agent_name],
        set_={
            "requests_total": current.requests_total + 1,
            "errors_total": current.errors_total + int(failed),
            "last_seen_at": statement.excluded.last_seen_at,
            # A running mean; rows from before the migration have no average yet.
            "avg_response_time": (
                func.coalesce(current.avg_response_time, elapsed) * current.requests_total + elapsed
            )
            / (current.requests_total + 1),
        },
    )


async def get(session: AsyncSession, content_id: uuid.UUID) -> Content | None:
    return await session.get(Content, content_id)


async def list_for_user(session: AsyncSession, user_id: int, limit: int, offset: int) -> list[Content]:
    query = (
        select(Content)
        .where(Content.user_id == user_id)
        .order_by(Content.created_at.desc(), Content.id)
        .limit(limit)
        .offset(offset)
    )
    return list(await session.scalars(query))
