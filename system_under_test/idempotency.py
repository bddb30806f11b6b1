"""Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a POST carrying a key runs once.

- The first request with a key claims it and runs.
- A repeat after it completed gets the stored result (`Idempotent-Replayed: true`), nothing runs.
- A repeat while it runs gets 409 (IDEMPOTENCY_CONFLICT) with Retry-After.
- The same key with a different body gets 422 (IDEMPOTENCY_KEY_REUSED).
- Any failure (an error answer, the database lost, the request cancelled) releases the key for a
  retry, which continues the same job: one key, one content row, whatever happens in between.
Keys belong to a user: two users cannot collide, or read each other's results.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from .db.metrics import utcnow
from .db.models import IdempotencyKey
from .envelope import ApiError, ErrorCode
from .logs import get_logger
from .resources import Resources

logger = get_logger("system_under_test.idempotency")

KEY_PATTERN = r'^("[A-Za-z0-9._:\-]{1,255}"|[A-Za-z0-9._:\-]{1,255})$'
# Releasing runs even in a cancelled request, so it is bounded: it must never hold one open.
_RELEASE_SECONDS = 5.0


@dataclass(frozen=True)
class Claim:
    user_id: int
    key: str
    content_id: uuid.UUID | None


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def claim(
    resources: Resources, user_id: int, key: str, print_: str, stale_after: float
) -> Claim | Replay:
    key = key.strip('"')
    async with resources.session() as session:
        inserted = await session.execute(
            insert(IdempotencyKey)
            .values(user_id=user_id, key=key, fingerprint=print_, status="in_flight")
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if inserted.first() is not None:
            await session.commit()
            return Claim(user_id, key, None)
        row = await session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
            .with_for_update()
        )
        if row is None:  # the row that stopped the insert is gone again: a race, try again
            raise ApiError(
                409,
                "Idempotency-Key busy, retry",
                ErrorCode.IDEMPOTENCY_CONFLICT,
                headers={"Retry-After": "1"},
            )
        if row.fingerprint != print_:
            raise ApiError(
                422,
                "This Idempotency-Key was used with a different request",
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
            )
        if row.status == "completed" and row.response_status is not None and row.response_body is not None:
            return Replay(row.response_status, row.response_body)
        if row.status == "in_flight" and row.updated_at > utcnow() - timedelta(seconds=stale_after):
            raise ApiError(
                409,
                "A request with this Idempotency-Key is in progress",
                ErrorCode.IDEMPOTENCY_CONFLICT,
                headers={"Retry-After": "1"},
            )
        # Failed before, or claimed by a process that died: this request carries it on.
        row.status, row.updated_at = "in_flight", utcnow()
        await session.commit()
        return Claim(user_id, key, row.content_id)


async def complete(resources: Resources, claim: Claim, status: int, body: dict[str, Any]) -> None:
    await _update(resources, claim, status="completed", response_status=status, response_body=body)


async def release(resources: Resources, claim: Claim) -> None:
    """Best effort, whatever failed: the failure that brought us here may be the database's own,
    and must be what the client hears. A claim not released goes stale after `stale_after`."""
    with anyio.move_on_after(_RELEASE_SECONDS, shield=True):
        try:
            await _update(resources, claim, status="failed")
        except Exception as error:
            logger.warning("idempotency claim not released", error_type=type(error).__name__)


def where(claim: Claim) -> Any:
    return (IdempotencyKey.user_id == claim.user_id) & (IdempotencyKey.key == claim.key)


async def _update(resources: Resources, claim: Claim, **values: Any) -> None:
    async with resources.session() as session:
        await session.execute(
            update(IdempotencyKey).where(where(claim)).values(**values, updated_at=utcnow())
        )
        await session.commit()
