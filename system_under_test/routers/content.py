"""Content generation under /api/v1/content."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import content, idempotency
from ..db.session import DbSession
from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..fields import StoredText, UtcDatetime
from ..resources import Resources
from ..security import CurrentUser

router = APIRouter(
    prefix="/content",
    tags=["content"],
    responses={401: {"description": "Not authenticated"}},
)


class GenerateRequest(BaseModel):
    prompt: StoredText = Field(min_length=1, max_length=4000)
    content_type: Literal["text", "lesson", "quiz", "summary"] = "text"
    agent: str = Field(
        default="content-generator", min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9\-]*$"
    )


class ContentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: Literal["processing", "completed", "failed"]
    prompt: str
    content_type: str
    result: str | None
    model: str | None
    error: str | None
    created_at: UtcDatetime | None
    completed_at: UtcDatetime | None


@router.post(
    "/generate",
    status_code=201,
    response_model=Envelope[ContentOut],
    responses={
        409: {"description": "A request with the same Idempotency-Key is in progress"},
        502: {"description": "The AI service failed"},
        503: {"description": "The AI service or the database is unavailable"},
        504: {"description": "The AI service timed out"},
    },
)
async def generate(
    body: GenerateRequest,
    request: Request,
    principal: CurrentUser,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=idempotency.KEY_PATTERN,
            description="Makes the request safe to repeat: a repeat returns the first one's result",
        ),
    ] = None,
) -> object:
    resources: Resources = request.app.state.resources
    claim = None
    if idempotency_key is not None:
        settings = request.app.state.settings
        # A claim older than every attempt the first request could still be making is abandoned.
        stale_after = settings.ai_service_timeout_seconds * settings.retry_max_attempts + 30
        outcome = await idempotency.claim(
            resources,
            principal.user_id,
            idempotency_key,
            idempotency.fingerprint(body.model_dump()),
            stale_after,
        )
        if isinstance(outcome, idempotency.Replay):
            return ok(
                outcome.body, "Content generated", outcome.status, headers={"Idempotent-Replayed": "true"}
            )
        claim = outcome
    try:
        job = await content.generate(
            resources,
            user_id=principal.user_id,
            prompt=body.prompt,
            content_type=body.content_type,
            agent=body.agent,
            request_id=request.state.request_id,
            claim=claim,
        )
        data = ContentOut.model_validate(job).model_dump(mode="json")
        if claim is not None:
            await idempotency.complete(resources, claim, 201, data)
    except BaseException:
        # Not only ApiError: a database lost partway or a cancelled request must not leave the key
        # claimed, or every retry gets 409 until the claim goes stale.
        if claim is not None:
            await idempotency.release(resources, claim)
        raise
    return ok(data, "Content generated", status_code=201)


@router.get(
    # `:uuid`: /content/generate is not a content id, so GET on it is a 405 (POST only), not a 422.
    "/{content_id:uuid}",
    response_model=Envelope[ContentOut],
    responses={404: {"description": "No such content"}},
)
async def get_content(content_id: uuid.UUID, session: DbSession, principal: CurrentUser) -> object:
    job = await content.get(session, content_id)
    # Someone else's content is as absent as content that does not exist: ids must not leak.
    if job is None or (job.user_id != principal.user_id and not principal.is_admin):
        raise ApiError(404, "Content not found", ErrorCode.NOT_FOUND)
    return ok(ContentOut.model_validate(job))


@router.get("", response_model=Envelope[list[ContentOut]])
async def list_content(
    session: DbSession,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> object:
    jobs = await content.list_for_user(session, principal.user_id, limit, offset)
    return ok([ContentOut.model_validate(job) for job in jobs])
