"""A replica whose clock is off from the shared store's still agrees with the store on when an
open breaker's wait is over: every instant in breaker state is on the store's clock."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from golive.system_under_test.resilience.breaker import BreakerConfig, BreakerState, State
from golive.system_under_test.resilience.breaker_store import Change, MemoryBreakerStore, StoreUnavailable
from golive.system_under_test.resilience.circuit import CircuitBreaker, CircuitOpenError

T = TypeVar("T")

OPEN_SECONDS = 10.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Clocks:
    """The shared store's clock and a replica's, `offset` seconds behind it; time passes for both."""

    def __init__(self, offset: float) -> None:
        self.store = Clock(1_000_000.0)
        self.replica = Clock(1_000_000.0 - offset)

    def advance(self, seconds: float) -> None:
        self.store.now += seconds
        self.replica.now += seconds


class FlakyStore(MemoryBreakerStore):
    """The shared store, until it becomes unreachable."""

    reachable = True

    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]:
        if not self.reachable:
            raise StoreUnavailable("connection refused")
        return await super().transact(name, change)


def config() -> BreakerConfig:
    return BreakerConfig(failure_threshold=1, open_seconds=OPEN_SECONDS, half_open_max_calls=1)


async def trip(breaker: CircuitBreaker) -> None:
    assert await breaker.record_failure(await breaker.acquire())


@pytest.mark.parametrize("offset", [30.0, -30.0, 0.0])
async def test_the_wait_ends_when_the_store_says_so(offset: float) -> None:
    clocks = Clocks(offset)
    breaker = CircuitBreaker("ai", config(), MemoryBreakerStore(clocks.store), clock=clocks.replica)
    await trip(breaker)
    clocks.advance(OPEN_SECONDS - 4)
    with pytest.raises(CircuitOpenError) as rejected:
        await breaker.acquire()
    assert rejected.value.headers == {"Retry-After": "4"}
    clocks.advance(4)
    assert (await breaker.acquire()).trial
    assert breaker.view.state is State.HALF_OPEN


async def test_a_trip_observed_from_another_replica_ends_on_the_stores_clock() -> None:
    clocks = Clocks(offset=30.0)
    shared = MemoryBreakerStore(clocks.store)
    in_sync = CircuitBreaker("ai", config(), shared, clock=clocks.store)
    lagging = CircuitBreaker("ai", config(), shared, clock=clocks.replica)
    await trip(in_sync)
    lagging.observe(shared.states["ai"], store_now=clocks.store(), adopted_when_read=lagging.adopted)
    clocks.advance(OPEN_SECONDS)
    assert (await lagging.acquire()).trial


async def test_a_degraded_replica_keeps_the_stores_clock() -> None:
    clocks = Clocks(offset=30.0)
    shared = FlakyStore(clocks.store)
    breaker = CircuitBreaker("ai", config(), shared, clock=clocks.replica)
    await trip(breaker)
    shared.reachable = False
    clocks.advance(OPEN_SECONDS)
    assert (await breaker.acquire()).trial
    assert breaker.degraded


class RefreshedMidTransaction(MemoryBreakerStore):
    """The periodic refresh observing the new state before the store's answer reaches the replica
    that made the change (its read landed between the write and the answer)."""

    breaker: CircuitBreaker | None = None

    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]:
        state, result = await super().transact(name, change)
        if self.breaker is not None:
            self.breaker.observe(state, store_now=self.clock(), adopted_when_read=self.breaker.adopted)
        return state, result


async def test_a_transition_the_refresh_saw_first_is_still_announced_and_persisted() -> None:
    transitions: list[tuple[State, State]] = []
    store = RefreshedMidTransaction()
    breaker = CircuitBreaker(
        "ai",
        config(),
        store,
        on_transition=lambda name, before, after: transitions.append((before.state, after.state)),
    )
    store.breaker = breaker
    await trip(breaker)  # a threshold of 1
    assert breaker.view.state is State.OPEN
    assert transitions == [(State.CLOSED, State.OPEN)]


async def test_a_trip_counted_while_the_store_was_away_reaches_the_other_replicas() -> None:
    """The refresh found the store gone (`go_local`), a replica tripped alone, the store came
    back: its next refresh merges the trip, and the other replica refuses too."""
    clocks = Clocks(offset=0.0)
    shared = FlakyStore(clocks.store)
    alone = CircuitBreaker("ai", config(), shared, clock=clocks.replica)
    other = CircuitBreaker("ai", config(), shared, clock=clocks.replica)
    shared.reachable = False
    alone.go_local()
    await trip(alone)
    await alone.rejoin(store_now=clocks.store())
    still_local = alone.degraded
    assert still_local, "the store is still away: the replica stays local"
    shared.reachable = True
    await alone.rejoin(store_now=clocks.store())
    assert not alone.degraded
    assert shared.states["ai"].state is State.OPEN
    other.observe(shared.states["ai"], store_now=clocks.store(), adopted_when_read=other.adopted)
    with pytest.raises(CircuitOpenError):
        await other.acquire()


async def test_a_read_sent_before_the_replicas_own_trip_does_not_undo_it() -> None:
    """The periodic refresh read the store (CLOSED, one failure), then this replica's failure
    tripped the breaker and its answer came first: the read, older than the view, is dropped, so
    the view stays OPEN and calls are refused. Adopted, it would admit them until the next refresh."""
    store = MemoryBreakerStore()
    breaker = CircuitBreaker(
        "ai", BreakerConfig(failure_threshold=2, open_seconds=OPEN_SECONDS, half_open_max_calls=1), store
    )
    await breaker.record_failure(await breaker.acquire())
    sent_at, read = breaker.adopted, store.states["ai"]  # the refresh's read, on its way
    assert await breaker.record_failure(await breaker.acquire())
    breaker.observe(read, store_now=store.clock(), adopted_when_read=sent_at)
    assert breaker.view.state is State.OPEN
    with pytest.raises(CircuitOpenError):
        await breaker.acquire()
    # A read sent after the trip is adopted as ever.
    breaker.observe(store.states["ai"], store_now=store.clock(), adopted_when_read=breaker.adopted)
    assert breaker.view == store.states["ai"]


class SlowToAnswer(FlakyStore):
    """The shared store back from an outage, whose answer to a transaction (made at once) reaches
    the replica only when `answered` is set: what the replica does meanwhile, it does alone."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.answered = asyncio.Event()
        self.answered.set()

    async def transact(self, name: str, change: Change[T]) -> tuple[BreakerState, T]:
        answer = await super().transact(name, change)
        await self.answered.wait()
        return answer


async def test_a_trial_that_succeeds_while_the_replica_rejoins_the_store_is_counted() -> None:
    """The store came back; before the refresh merged, a call past the open time made the replica
    half-open on its own, and that trial succeeded while the merge was on its way. The merge sent
    the trial in flight: its success is merged too, and the next success closes the breaker. Lost,
    the breaker would stay half-open until one more call came."""
    clocks = Clocks(offset=0.0)
    shared = SlowToAnswer(clocks.store)
    breaker = CircuitBreaker(
        "redis",
        BreakerConfig(failure_threshold=1, open_seconds=OPEN_SECONDS, half_open_max_calls=2),
        shared,
        clock=clocks.replica,
    )
    shared.reachable = False
    await trip(breaker)
    clocks.advance(OPEN_SECONDS)
    trial = await breaker.acquire()
    assert (breaker.degraded, breaker.view.state) == (True, State.HALF_OPEN)  # on its own
    shared.reachable = True
    shared.answered.clear()
    rejoining = asyncio.create_task(breaker.rejoin(store_now=clocks.store()))
    await asyncio.sleep(0)  # the merge is written; its answer waits
    await breaker.record_success(trial)
    shared.answered.set()
    await rejoining
    assert not breaker.degraded
    assert (breaker.view.trial_successes, breaker.view.trials_in_flight) == (1, 0)
    assert shared.states["redis"] == breaker.view
    await breaker.record_success(await breaker.acquire())
    assert breaker.view.state is State.CLOSED
