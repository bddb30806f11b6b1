"""The circuit breaker's state machine: pure functions of (state, config, now), nothing else.

Semantics (documented in the README's resilience section):
- CLOSED: calls pass. Each failure adds to `failure_count`; a success resets it (consecutive
  failures, as CIRCUIT_BREAKER_FAILURE_THRESHOLD counts them). Reaching the threshold opens.
- OPEN: calls are rejected with the time left until `next_attempt_at`. The first call after that
  moves the breaker to HALF_OPEN (lazily: no timer runs).
- HALF_OPEN: at most `half_open_max_calls` trial calls run at once; others are rejected at once.
  Any trial failure re-opens; `half_open_max_calls` trial successes close.
- A replica cut off from the shared store goes on with a local copy; when it is back, `rejoin`
  merges what it did meanwhile into the shared state, so a trip it counted alone is not lost.
- Every transition starts a new epoch. A permit remembers its epoch, and an outcome reported for
  an older epoch changes nothing: a call admitted before a trip or a reset cannot disturb the
  state that followed it.

The same functions run inside a shared store (every replica agrees) or a local one (degraded).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

# How long a caller rejected for lack of a half-open trial slot is told to wait.
HALF_OPEN_RETRY_AFTER = 1.0


class State(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int
    open_seconds: float
    half_open_max_calls: int


@dataclass(frozen=True)
class BreakerState:
    state: State = State.CLOSED
    failure_count: int = 0
    last_failure_at: float | None = None
    opened_at: float | None = None
    next_attempt_at: float | None = None
    trials_in_flight: int = 0
    trial_successes: int = 0
    epoch: int = 0
    trips: int = 0

    def to_dict(self) -> dict[str, object]:
        return {field: getattr(self, field) for field in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BreakerState:
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        known["state"] = State(str(known.get("state", State.CLOSED)))
        return cls(**known)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Permit:
    """Admission to make one call. `trial` permits hold one of the half-open slots."""

    epoch: int
    trial: bool


@dataclass(frozen=True)
class Rejection:
    retry_after: float


Decision = Permit | Rejection


def _open(state: BreakerState, config: BreakerConfig, now: float) -> BreakerState:
    return replace(
        state,
        state=State.OPEN,
        opened_at=now,
        next_attempt_at=now + config.open_seconds,
        trials_in_flight=0,
        trial_successes=0,
        epoch=state.epoch + 1,
        trips=state.trips + 1,
    )


def acquire(state: BreakerState, config: BreakerConfig, now: float) -> tuple[BreakerState, Decision]:
    if state.state is State.CLOSED:
        return state, Permit(state.epoch, trial=False)
    if state.state is State.OPEN:
        assert state.next_attempt_at is not None
        if now < state.next_attempt_at:
            return state, Rejection(state.next_attempt_at - now)
        state = replace(
            state, state=State.HALF_OPEN, trials_in_flight=0, trial_successes=0, epoch=state.epoch + 1
        )
    if state.trials_in_flight >= config.half_open_max_calls:
        return state, Rejection(HALF_OPEN_RETRY_AFTER)
    return replace(state, trials_in_flight=state.trials_in_flight + 1), Permit(state.epoch, trial=True)


def record_success(state: BreakerState, config: BreakerConfig, now: float, permit: Permit) -> BreakerState:
    if permit.epoch != state.epoch:
        return state
    if not permit.trial:
        return replace(state, failure_count=0) if state.failure_count else state
    successes = state.trial_successes + 1
    if successes >= config.half_open_max_calls:
        return BreakerState(epoch=state.epoch + 1, trips=state.trips, last_failure_at=state.last_failure_at)
    return replace(state, trials_in_flight=state.trials_in_flight - 1, trial_successes=successes)


def record_failure(state: BreakerState, config: BreakerConfig, now: float, permit: Permit) -> BreakerState:
    if permit.epoch != state.epoch:
        return state
    failed = replace(state, failure_count=state.failure_count + 1, last_failure_at=now)
    if permit.trial or failed.failure_count >= config.failure_threshold:
        return _open(failed, config, now)
    return failed


def release(state: BreakerState, config: BreakerConfig, now: float, permit: Permit) -> BreakerState:
    """The call ended without an outcome (cancelled, or an error that says nothing about the
    dependency): a trial slot is given back, nothing is counted."""
    if permit.epoch != state.epoch or not permit.trial:
        return state
    return replace(state, trials_in_flight=state.trials_in_flight - 1)


def reset(state: BreakerState, config: BreakerConfig, now: float) -> BreakerState:
    return BreakerState(epoch=state.epoch + 1, trips=state.trips)


def rejoin(shared: BreakerState, left: BreakerState, local: BreakerState) -> BreakerState:
    """The shared state once a replica that went on alone is back: `left` is the shared state as
    it last knew it, `local` where its own transitions took it meanwhile.

    A trip it counted alone still refuses where every replica shares a closed breaker (the
    dependency did fail: refusing for the rest of the open time is the safe side). Otherwise its
    state carries on if no other replica changed the shared one meanwhile, and the shared state
    wins if one did. The result is a new epoch whenever it is not the shared state as it was."""
    if local == left:
        return shared
    tripped_alone = local.trips - left.trips
    if tripped_alone > 0 and local.state is State.OPEN and shared.state is State.CLOSED:
        return replace(
            local,
            epoch=max(shared.epoch, local.epoch) + 1,
            trips=shared.trips + tripped_alone,
        )
    if shared == left:
        return local
    return shared
