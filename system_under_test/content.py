"""Content generation: store the job, ask the AI service, store the outcome, count it per agent."""

from __future__ import annotations

import time
import uuid

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .ai_service import AiServiceError
from .db.metrics import count_call, utcnow
from .db.models import Content, IdempotencyKey
from .envelope import ApiError
from .idempotency import Claim, where
from .logs import get_logger
from .realtime.events import CONTENT_COMPLETED, CONTENT_PROGRESS, content_event
from .realtime.service import Realtime
from .resources import AI_SERVICE, Resources

logger = get_logger("system_under_test.content")

# Recording that a job failed must neither hang a request nor be skipped because it was cancelled.
_RECORD_FAILURE_SECONDS = 5.0


async def generate(
    resources: Resources,
    *,
    user_id: int,
    prompt: str,
    content_type: str,
    agent: str,
    request_id: str,
    claim: Claim | None = None,
) -> Content:
    """Runs one generation to its end. The job row exists before the AI service is called, so a
    crash or a failed call leaves a trace; a failed call marks the job failed and re-raises.
    Under an idempotency claim, the job is the claim's: created with it, or continued.
    Any other failure partway (the database lost, the request cancelled) marks the job failed when
    the database still takes it; when it does not, the reaper (job_reaper.py) does later.
    Progress events follow the job (0, 10, 90, 100, then content_completed); they are queued,
    never waited for."""
    async with resources.session() as session:
        if claim is not None and claim.content_id is not None:
            job = await session.get_one(Content, claim.content_id)
            job.status, job.error, job.completed_at = "processing", None, None
        else:
            job = Content(
                id=uuid.uuid4(),
                user_id=user_id,
                prompt=prompt,
                content_type=content_type,
                status="processing",
            )
            session.add(job)
            if claim is not None:
                await session.flush()
                await session.execute(update(IdempotencyKey).where(where(claim)).values(content_id=job.id))
        await session.commit()

    progress = _Progress(resources.realtime, job.id, user_id)
    try:
        await _run(resources, job, progress, agent, request_id)
    except BaseException as error:
        if job.completed_at is None:  # no outcome stored: the job must not stay `processing`
            reason = f"Generation interrupted ({type(error).__name__})"
            await _record_failure(resources, job, reason)
            progress.complete("failed", reason)
        raise
    return job


async def _run(resources: Resources, job: Content, progress: _Progress, agent: str, request_id: str) -> None:
    progress.report(0, "started")
    progress.report(10, "generating")
    ai_service = resources.ai_service
    prompt, content_type = job.prompt, job.content_type
    started = time.perf_counter()
    try:
        # The job id is the Idempotency-Key: a retried attempt cannot generate (or bill) twice.
        generation = await resources.resilience.dependencies[AI_SERVICE].call(
            lambda: ai_service.generate(prompt, content_type, request_id, idempotency_key=str(job.id)),
            idempotent=True,
        )
    except ApiError as error:
        tripped = isinstance(error, AiServiceError) and error.tripped_breaker
        await _finish(resources, job, agent, started, error=error.message, tripped=tripped)
        progress.complete("failed", error.message)
        error.details = {**(error.details or {}), "content_id": str(job.id)}
        raise
    progress.report(90, "storing")
    await _finish(
        resources,
        job,
        agent,
        started,
        error=None,
        tripped=False,
        result=generation.content,
        model=generation.model,
    )
    progress.complete("completed", None)


class _Progress:
    def __init__(self, realtime: Realtime, job_id: uuid.UUID, user_id: int) -> None:
        self.realtime = realtime
        self.job_id = job_id
        self.user_id = user_id

    def report(self, percent: int, stage: str) -> None:
        self.realtime.publish(
            content_event(
                self.job_id,
                self.user_id,
                CONTENT_PROGRESS,
                progress=percent,
                stage=stage,
                status="processing",
            )
        )

    def complete(self, status: str, error: str | None) -> None:
        self.realtime.publish(
            content_event(
                self.job_id, self.user_id, CONTENT_PROGRESS, progress=100, stage=status, status=status
            )
            + content_event(self.job_id, self.user_id, CONTENT_COMPLETED, status=status, error=error)
        )


async def _finish(
    resources: Resources,
    job: Content,
    agent: str,
    started: float,
    error: str | None,
    tripped: bool,
    result: str | None = None,
    model: str | None = None,
) -> None:
    """Stores the outcome; the job object shows it only once it is stored."""
    elapsed = time.perf_counter() - started
    completed_at = utcnow()
    status = "failed" if error else "completed"
    outcome = {"status": status, "result": result, "model": model, "error": error}
    async with resources.session() as session:
        # A plain UPDATE: merge() would first SELECT the row it is about to overwrite.
        await session.execute(
            update(Content).where(Content.id == job.id).values(**outcome, completed_at=completed_at)
        )
        await session.execute(count_call(agent, elapsed, failed=error is not None, tripped=tripped))
        await session.commit()
    job.status, job.result, job.model, job.error = status, result, model, error
    job.completed_at = completed_at


async def _record_failure(resources: Resources, job: Content, reason: str) -> None:
    """Best effort: the failure that brought us here may be the database's own."""
    with anyio.move_on_after(_RECORD_FAILURE_SECONDS, shield=True):
        try:
            async with resources.session() as session:
                await session.execute(
                    update(Content)
                    .where(Content.id == job.id, Content.status == "processing")
                    .values(status="failed", error=reason, completed_at=utcnow())
                )
                await session.commit()
        except Exception as error:
            logger.warning("job left for the reaper", content_id=str(job.id), error_type=type(error).__name__)


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
