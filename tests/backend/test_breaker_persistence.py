"""Breaker state written to Postgres (a migrated database of the test's own) and read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from golive.system_under_test.db.session import create_sessionmaker
from golive.system_under_test.db.urls import async_database_url
from golive.system_under_test.resilience.breaker import BreakerState, State
from golive.system_under_test.resilience.persistence import BreakerPersister

Summary = dict[str, tuple[State, int, int, float | None]]


@pytest.fixture
async def sessionmaker(golive_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(async_database_url(golive_database), poolclass=NullPool)
    yield create_sessionmaker(engine)
    await engine.dispose()


def summary(states: dict[str, BreakerState]) -> Summary:
    return {
        name: (state.state, state.trips, state.failure_count, state.next_attempt_at)
        for name, state in states.items()
    }


async def persisted(persister: BreakerPersister, expected: Summary) -> Summary:
    """What the database holds once it holds `expected`, or after a deadline, whatever it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    found = summary(await persister.load())
    while found != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        found = summary(await persister.load())
    return found


def opened(trips: int) -> BreakerState:
    return BreakerState(
        state=State.OPEN,
        failure_count=5,
        last_failure_at=1_700_000_000.5,
        opened_at=1_700_000_000.5,
        next_attempt_at=1_700_000_060.5,
        trips=trips,
    )


async def test_trips_survive_a_restart(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    before = BreakerPersister(sessionmaker)
    before.start()
    try:
        before.enqueue("ai-service", opened(trips=3))
        assert await persisted(before, {"ai-service": (State.OPEN, 3, 5, 1_700_000_060.5)})
    finally:
        await before.stop()
    restarted = BreakerPersister(sessionmaker)
    assert (await restarted.load())["ai-service"].trips == 3


async def test_a_burst_of_one_breaker_cannot_push_out_anothers_state(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    persister = BreakerPersister(sessionmaker)
    persister.enqueue("database", opened(trips=1))
    # A flapping breaker: far more transitions than could ever wait in a queue.
    for transition in range(1, 1001):
        flapped = (
            opened(trips=(transition + 1) // 2) if transition % 2 else BreakerState(trips=transition // 2)
        )
        persister.enqueue("ai-service", flapped)
    persister.start()
    try:
        expected = {
            "database": (State.OPEN, 1, 5, 1_700_000_060.5),
            "ai-service": (State.CLOSED, 500, 0, None),
        }
        assert await persisted(persister, expected) == expected
        assert persister.written == 2  # the superseded states were never written
    finally:
        await persister.stop()
