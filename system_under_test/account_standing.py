"""Whether a token's account may still act, and in which role: asked of the database on every
authenticated request, so that deactivating, deleting or demoting a user takes effect at once, on
every replica, however the change was made (API, management command, SQL). The last answer per
account is kept only to ride out a database that cannot be asked; nothing else is cached."""

from __future__ import annotations

import time
from collections import OrderedDict

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.models import User
from .errors import is_dependency_failure

# The lookup is one indexed row: a database slower than this is failing, and the remembered
# answer (or a 503) is better than holding the request. It bypasses the database breaker on
# purpose: an open breaker must not lock administrators out of resetting it.
LOOKUP_TIMEOUT_SECONDS = 1.0
# How long a remembered answer may stand in for the database, and for how many accounts.
REMEMBER_SECONDS = 300.0
_CAPACITY = 10_000


class AccountStanding:
    def __init__(self) -> None:
        self._last: OrderedDict[int, tuple[float, str | None]] = OrderedDict()

    async def role_of(self, sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> str | None:
        """The account's role, or None when it is deactivated or gone."""
        try:
            with anyio.fail_after(LOOKUP_TIMEOUT_SECONDS):
                async with sessionmaker() as session:
                    row = (
                        await session.execute(select(User.role, User.is_active).where(User.id == user_id))
                    ).first()
        except Exception as error:
            if not is_dependency_failure(error):
                raise
            remembered = self._recall(user_id)
            if remembered is None:
                raise
            return remembered[1]
        role = row.role if row is not None and row.is_active else None
        self._remember(user_id, role)
        return role

    def _recall(self, user_id: int) -> tuple[float, str | None] | None:
        remembered = self._last.get(user_id)
        if remembered is None or time.monotonic() - remembered[0] > REMEMBER_SECONDS:
            return None
        return remembered

    def _remember(self, user_id: int, role: str | None) -> None:
        self._last[user_id] = (time.monotonic(), role)
        self._last.move_to_end(user_id)
        if len(self._last) > _CAPACITY:
            self._last.popitem(last=False)
