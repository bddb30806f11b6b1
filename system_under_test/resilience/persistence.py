"""Breaker state in `circuit_breaker_state`, so it survives a restart of everything (Redis too).

Writes go to one background task: a request that trips a breaker only leaves the new state for it,
and a database that is itself failing costs a logged warning, never a request. What waits is the
latest state of each breaker: a newer one supersedes it (only the newest is worth writing), so
what waits is bounded by the number of breakers, and a breaker that flaps cannot push another
breaker's state out.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import CircuitBreakerState
from ..logs import get_logger
from .background import Background
from .breaker import BreakerState, State

logger = get_logger("system_under_test.circuit_breaker")
_WRITE_TIMEOUT_SECONDS = 2.0


def _to_datetime(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _to_seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.replace(tzinfo=UTC).timestamp()


class BreakerPersister:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.pending: dict[str, BreakerState] = {}
        self._wakeup = asyncio.Event()
        self.written = 0
        self.dropped = 0
        self._background = Background("breaker-persister")

    def start(self) -> None:
        self._background.start(self._drain())

    async def stop(self) -> None:
        await self._background.stop()

    def enqueue(self, name: str, state: BreakerState) -> None:
        self.pending[name] = state
        self._wakeup.set()

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self.pending:
                name = next(iter(self.pending))
                await self._persist(name, self.pending.pop(name))

    async def _persist(self, name: str, state: BreakerState) -> None:
        try:
            await asyncio.wait_for(self._write(name, state), _WRITE_TIMEOUT_SECONDS)
            self.written += 1
        except Exception as error:
            self.dropped += 1
            logger.warning("breaker state not persisted", breaker=name, error_type=type(error).__name__)

    async def _write(self, name: str, state: BreakerState) -> None:
        values = {
            "state": state.state.value,
            "failure_count": state.failure_count,
            "last_failure_time": _to_datetime(state.last_failure_at),
            "next_attempt_time": _to_datetime(state.next_attempt_at),
            "trips": state.trips,
            "updated_at": datetime.now(UTC).replace(tzinfo=None),
        }
        statement = insert(CircuitBreakerState).values(name=name, **values)
        async with self.sessionmaker() as session:
            await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
            await session.commit()

    async def load(self) -> dict[str, BreakerState]:
        """What the database remembers. A HALF_OPEN breaker comes back OPEN: its trials died with
        the process that ran them."""
        async with self.sessionmaker() as session:
            rows = (await session.scalars(select(CircuitBreakerState))).all()
        states = {}
        for row in rows:
            state = State(row.state)
            next_attempt = _to_seconds(row.next_attempt_time)
            if state is not State.CLOSED and next_attempt is None:
                next_attempt = datetime.now(UTC).timestamp()
            states[row.name] = BreakerState(
                state=State.OPEN if state is State.HALF_OPEN else state,
                failure_count=row.failure_count or 0,
                last_failure_at=_to_seconds(row.last_failure_time),
                next_attempt_at=next_attempt if state is not State.CLOSED else None,
                opened_at=None,
                trips=row.trips,
            )
        return states
