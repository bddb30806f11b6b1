"""The breaker's pure state machine against an independent reference model (hypothesis).

The model is written the other way round on purpose: it keeps the set of permits still allowed
to report, where the implementation keeps epochs. Agreement on every step is the test.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from golive.system_under_test.resilience import breaker
from golive.system_under_test.resilience.breaker import BreakerConfig, BreakerState, Permit, Rejection, State


@dataclass
class Model:
    threshold: int
    open_seconds: float
    max_trials: int
    state: State = State.CLOSED
    failures: int = 0
    open_until: float = 0.0
    normal: set[int] = field(default_factory=set)
    trials: set[int] = field(default_factory=set)
    trial_successes: int = 0

    def _invalidate(self) -> None:
        self.normal.clear()
        self.trials.clear()
        self.trial_successes = 0

    def _open(self, now: float) -> None:
        self.state, self.open_until = State.OPEN, now + self.open_seconds
        self._invalidate()

    def _close(self) -> None:
        self.state, self.failures = State.CLOSED, 0
        self._invalidate()

    def acquire(self, now: float, ticket: int) -> str | float:
        if self.state is State.CLOSED:
            self.normal.add(ticket)
            return "admit"
        if self.state is State.OPEN:
            if now < self.open_until:
                return self.open_until - now
            self.state = State.HALF_OPEN
            self._invalidate()
        if len(self.trials) >= self.max_trials:
            return breaker.HALF_OPEN_RETRY_AFTER
        self.trials.add(ticket)
        return "trial"

    def succeed(self, ticket: int) -> None:
        if ticket in self.normal:
            self.normal.discard(ticket)
            self.failures = 0
        elif ticket in self.trials:
            self.trials.discard(ticket)
            self.trial_successes += 1
            if self.trial_successes >= self.max_trials:
                self._close()

    def fail(self, now: float, ticket: int) -> None:
        if ticket in self.normal:
            self.normal.discard(ticket)
            self.failures += 1
            if self.failures >= self.threshold:
                self._open(now)
        elif ticket in self.trials:
            self._open(now)

    def release(self, ticket: int) -> None:
        self.normal.discard(ticket)
        self.trials.discard(ticket)


class BreakerMachine(RuleBasedStateMachine):
    permits = Bundle("permits")

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.tickets = itertools.count()

    @initialize(
        threshold=st.integers(1, 5),
        open_seconds=st.sampled_from([0.5, 5.0, 60.0]),
        max_trials=st.integers(1, 4),
    )
    def configure(self, threshold: int, open_seconds: float, max_trials: int) -> None:
        self.config = BreakerConfig(threshold, open_seconds, max_trials)
        self.model = Model(threshold, open_seconds, max_trials)
        self.state = BreakerState()

    @rule(target=permits)
    def acquire(self) -> tuple[int, Permit] | None:
        ticket = next(self.tickets)
        expected = self.model.acquire(self.now, ticket)
        self.state, decision = breaker.acquire(self.state, self.config, self.now)
        if isinstance(decision, Rejection):
            assert decision.retry_after == expected
            return None  # nothing to report for a rejected call
        assert expected == ("trial" if decision.trial else "admit")
        return ticket, decision

    @rule(permit=consumes(permits))
    def succeed(self, permit: tuple[int, Permit] | None) -> None:
        if permit is not None:
            self.model.succeed(permit[0])
            self.state = breaker.record_success(self.state, self.config, self.now, permit[1])

    @rule(permit=consumes(permits))
    def fail(self, permit: tuple[int, Permit] | None) -> None:
        if permit is not None:
            self.model.fail(self.now, permit[0])
            self.state = breaker.record_failure(self.state, self.config, self.now, permit[1])

    @rule(permit=consumes(permits))
    def release(self, permit: tuple[int, Permit] | None) -> None:
        if permit is not None:
            self.model.release(permit[0])
            self.state = breaker.release(self.state, self.config, self.now, permit[1])

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 5.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def reset(self) -> None:
        self.model._close()
        self.state = breaker.reset(self.state, self.config, self.now)

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "model"):
            return
        assert self.state.state == self.model.state
        assert self.state.trials_in_flight == len(self.model.trials)
        assert self.state.trials_in_flight <= self.config.half_open_max_calls
        if self.state.state is State.CLOSED:
            assert self.state.failure_count == self.model.failures < self.config.failure_threshold
        if self.state.state is State.OPEN:
            assert self.state.next_attempt_at == self.model.open_until


TestBreakerAgainstModel = BreakerMachine.TestCase
TestBreakerAgainstModel.settings = TestBreakerAgainstModel.settings.__class__(
    TestBreakerAgainstModel.settings, max_examples=500, stateful_step_count=80
)


def config() -> BreakerConfig:
    return BreakerConfig(failure_threshold=3, open_seconds=10, half_open_max_calls=2)


def test_threshold_consecutive_failures_open_the_breaker() -> None:
    state = BreakerState()
    for _ in range(3):
        state, permit = breaker.acquire(state, config(), 0)
        assert isinstance(permit, Permit)
        state = breaker.record_failure(state, config(), 0, permit)
    assert state.state is State.OPEN
    assert state.trips == 1
    assert breaker.acquire(state, config(), 4)[1] == Rejection(6)


def test_a_success_resets_the_count() -> None:
    state = BreakerState()
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        state, permit = breaker.acquire(state, config(), 0)
        assert isinstance(permit, Permit)
        record = breaker.record_failure if outcome == "fail" else breaker.record_success
        state = record(state, config(), 0, permit)
    assert state.state is State.CLOSED
    assert state.failure_count == 2


def test_half_open_admits_exactly_max_trials_and_closes_after_their_successes() -> None:
    state = BreakerState(state=State.OPEN, opened_at=0, next_attempt_at=10, epoch=1)
    state, first = breaker.acquire(state, config(), 10)
    state, second = breaker.acquire(state, config(), 10)
    state, third = breaker.acquire(state, config(), 10)
    assert state.state is State.HALF_OPEN
    assert isinstance(first, Permit)
    assert first.trial
    assert isinstance(second, Permit)
    assert second.trial
    assert third == Rejection(breaker.HALF_OPEN_RETRY_AFTER)
    state = breaker.record_success(state, config(), 11, first)
    state = breaker.record_success(state, config(), 11, second)
    assert state.state is State.CLOSED


def test_a_stale_permit_cannot_disturb_the_next_state() -> None:
    state, early = breaker.acquire(BreakerState(), config(), 0)
    assert isinstance(early, Permit)
    state = breaker.reset(state, config(), 1)
    for _ in range(5):
        state = breaker.record_failure(state, config(), 2, early)
    assert state.state is State.CLOSED
    assert state.failure_count == 0


def test_state_round_trips_through_a_dict() -> None:
    state = BreakerState(
        state=State.OPEN, failure_count=5, opened_at=1.5, next_attempt_at=61.5, epoch=3, trips=2
    )
    assert BreakerState.from_dict(state.to_dict()) == state


def test_a_trial_from_an_earlier_half_open_cannot_free_a_slot_of_the_next() -> None:
    opened = BreakerState(state=State.OPEN, opened_at=0, next_attempt_at=10, epoch=1)
    state, stale = breaker.acquire(opened, config(), 10)
    state, failing = breaker.acquire(state, config(), 10)
    assert isinstance(stale, Permit)
    assert isinstance(failing, Permit)
    state = breaker.record_failure(state, config(), 10, failing)  # re-opens until 20
    state, _ = breaker.acquire(state, config(), 20)
    state, _ = breaker.acquire(state, config(), 20)
    assert state.trials_in_flight == 2
    state = breaker.release(state, config(), 20, stale)
    assert state.trials_in_flight == 2
    assert breaker.acquire(state, config(), 20)[1] == Rejection(breaker.HALF_OPEN_RETRY_AFTER)


def fail(state: BreakerState, times: int, now: float = 0) -> BreakerState:
    for _ in range(times):
        state, permit = breaker.acquire(state, config(), now)
        assert isinstance(permit, Permit)
        state = breaker.record_failure(state, config(), now, permit)
    return state


def test_a_trip_counted_alone_still_refuses_once_the_replica_is_back() -> None:
    left = fail(BreakerState(), 1)
    shared = fail(left, 1)  # another replica counted one more meanwhile, not enough to trip
    local = fail(left, 2, now=5)
    merged = breaker.rejoin(shared, left, local)
    assert merged.state is State.OPEN
    assert (merged.opened_at, merged.next_attempt_at) == (5, 15)
    assert merged.trips == shared.trips + 1
    assert merged.epoch > max(shared.epoch, local.epoch)
    assert isinstance(breaker.acquire(merged, config(), 6)[1], Rejection)


def test_what_a_replica_did_alone_carries_on_where_no_other_changed_the_shared_state() -> None:
    left = fail(BreakerState(), 1)
    local = fail(left, 1)
    assert breaker.rejoin(left, left, local) == local


def test_the_shared_state_wins_where_another_replica_changed_it_and_nothing_tripped_alone() -> None:
    left = fail(BreakerState(), 1)
    shared = breaker.reset(left, config(), 1)
    assert breaker.rejoin(shared, left, fail(left, 1)) == shared
    assert breaker.rejoin(shared, left, left) == shared


def test_a_breaker_open_everywhere_stays_as_shared() -> None:
    left = BreakerState()
    shared = fail(left, 3, now=1)
    assert breaker.rejoin(shared, left, fail(left, 3, now=2)) == shared
