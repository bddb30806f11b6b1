"""A named circuit breaker as the app uses it: a local view of the shared state, kept fresh.

Calls consult the local view first: while it says CLOSED (and nothing needs counting) or OPEN
(and the wait is not over), no network I/O happens at all. Everything else — a failure, a
half-open trial, a reset — is a transition done in the shared store, whose answer refreshes the
view. When the shared store is unreachable the breaker keeps working on local state (`degraded`)
until it is back; then what it did alone is merged into the shared state (`rejoin`).

Every instant in breaker state (opened_at, next_attempt_at) is on the shared store's clock: the
store applies transitions with its own time, so replicas agree. A replica compares those instants
with its estimate of the store's time (its own clock plus the offset the store's last answer
showed), never with its own clock: one whose clock lags would otherwise hold a breaker open for
as long as it lags.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from ..envelope import ApiError, ErrorCode
from ..logs import get_logger
from . import breaker
from .breaker import BreakerConfig, BreakerState, Permit, Rejection, State
from .breaker_store import (
    BreakerStore,
    Change,
    MemoryBreakerStore,
    StoreUnavailable,
)

T = TypeVar("T")

# Merges in a row when calls keep changing the local state while one is on its way (transitions
# are rare: a closed breaker's calls change nothing); the last one's answer is adopted.
REJOIN_ROUNDS = 3
Transition = Callable[[str, BreakerState, BreakerState], None]
logger = get_logger("system_under_test.circuit_breaker")


def _merge(left: BreakerState, local: BreakerState) -> Change[None]:
    """The change that merges a replica's local state into the shared one (`breaker.rejoin`)."""
    return lambda shared, now: (breaker.rejoin(shared, left, local), None)


class CircuitOpenError(ApiError):
    def __init__(self, name: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            503,
            f"Circuit breaker {name!r} is open: the dependency is failing",
            ErrorCode.CIRCUIT_OPEN,
            headers={"Retry-After": str(seconds)},
            details={"breaker": name, "retry_after_seconds": seconds},
        )


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        shared: BreakerStore | None,
        *,
        clock: Callable[[], float] = time.time,
        on_transition: Transition | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.shared = shared
        self.clock = clock
        # The shared store's clock minus this replica's; kept while degraded, so the local store
        # goes on with the instants the shared one wrote.
        self.store_offset = 0.0
        self.local = MemoryBreakerStore(self.store_now)
        self.on_transition = on_transition
        self.view = BreakerState()
        self.degraded = False
        # The shared state as this replica last knew it before it went local.
        self.left = BreakerState()
        # How many states this replica has adopted: a read of the shared store sent before the
        # last of them may be older than the view (see `observe`).
        self.adopted = 0

    def store_now(self) -> float:
        """The shared store's time as this replica estimates it."""
        return self.clock() + self.store_offset

    # --- calls ---------------------------------------------------------------------------------

    async def acquire(self) -> Permit:
        view = self.view
        if view.state is State.CLOSED:
            return Permit(view.epoch, trial=False)
        now = self.store_now()
        if view.state is State.OPEN and view.next_attempt_at is not None and now < view.next_attempt_at:
            raise CircuitOpenError(self.name, view.next_attempt_at - now)
        decision = await self._transact(lambda state, now: breaker.acquire(state, self.config, now))
        if isinstance(decision, Rejection):
            raise CircuitOpenError(self.name, decision.retry_after)
        return decision

    def success_is_news(self, permit: Permit) -> bool:
        """Whether reporting a success would change anything (most do not: CLOSED, no failures)."""
        return permit.trial or (self.view.failure_count > 0 and permit.epoch == self.view.epoch)

    async def record_success(self, permit: Permit) -> None:
        if not self.success_is_news(permit):
            return
        await self._transact(
            lambda state, now: (breaker.record_success(state, self.config, now, permit), None)
        )

    async def record_failure(self, permit: Permit) -> bool:
        """Returns whether this failure is the one that opened the breaker."""

        def change(state: BreakerState, now: float) -> tuple[BreakerState, bool]:
            failed = breaker.record_failure(state, self.config, now, permit)
            return failed, failed.trips > state.trips

        return await self._transact(change)

    async def release(self, permit: Permit) -> None:
        if permit.trial:
            await self._transact(lambda state, now: (breaker.release(state, self.config, now, permit), None))

    # --- management ----------------------------------------------------------------------------

    async def reset(self) -> None:
        await self._transact(lambda state, now: (breaker.reset(state, self.config, now), None))

    def observe(self, shared_state: BreakerState | None, *, store_now: float, adopted_when_read: int) -> None:
        """Adopts the shared state read by the periodic refresh (another replica's transitions),
        with the store's time read in the same round trip. `adopted_when_read` is `adopted` when
        the read was sent: a state adopted since (this replica's own change, answered while the
        read was on its way) is newer than the one read, which is dropped. Adopting it would undo
        a trip just made (the view CLOSED again, calls admitted without asking the store) until
        the next refresh."""
        self._sync_clock(store_now)
        if self.adopted != adopted_when_read:
            return
        if shared_state is not None and shared_state != self.view:
            self._adopt(shared_state, announce=False)

    def go_local(self) -> None:
        """The shared store is unreachable: go on from the last shared state this replica knew."""
        if not self.degraded:
            self.degraded = True
            self.left = self.view
            self.local.states[self.name] = self.view

    async def rejoin(self, *, store_now: float) -> None:
        """The shared store answers again: merge what this replica did alone into the shared
        state (`breaker.rejoin`) and share again; if the store fails again, stay local.

        Calls go on locally while the merge is on its way to the store: a transition one makes
        meanwhile (a half-open trial's success) is merged in turn, from the state the merge was
        made of. Adopting the store's answer over it would lose it: a success not counted leaves
        the breaker half-open until another call comes."""
        self._sync_clock(store_now)
        if self.shared is None or not self.degraded:
            return
        for _ in range(REJOIN_ROUNDS):
            left, local, adopted = self.left, self.view, self.adopted
            try:
                state, _ = await self.shared.transact(self.name, _merge(left, local))
            except StoreUnavailable:
                return
            # What the store now holds was made of `local`: the next merge starts from it.
            self.left = local
            if self.adopted == adopted:
                break
        self.degraded = False
        self._adopt(state, announce=False)

    # --- internals -----------------------------------------------------------------------------

    def _sync_clock(self, store_now: float) -> None:
        self.store_offset = store_now - self.clock()

    async def _transact(self, change: Change[T]) -> T:
        # The state the change was made from (the last attempt's, if the store retried it): what
        # this replica's transition is announced against. Not the view, which the periodic refresh
        # may already have moved to the new state while the store's answer was on its way.
        changed_from: list[BreakerState] = []

        def recorded(state: BreakerState, now: float) -> tuple[BreakerState, T]:
            changed_from[:] = [state]
            return change(state, now)

        if self.shared is not None and not self.degraded:

            def on_store_clock(state: BreakerState, now: float) -> tuple[BreakerState, T]:
                self._sync_clock(now)
                return recorded(state, now)

            try:
                state, result = await self.shared.transact(self.name, on_store_clock)
            except StoreUnavailable as error:
                logger.warning(
                    "breaker state unshared: store unavailable", breaker=self.name, error=str(error)
                )
                self.go_local()
            else:
                self._adopt(state, changed_from=changed_from[0] if changed_from else None)
                return result
        state, result = await self.local.transact(self.name, recorded)
        self._adopt(state, changed_from=changed_from[0] if changed_from else None)
        return result

    def _adopt(
        self, state: BreakerState, announce: bool = True, changed_from: BreakerState | None = None
    ) -> None:
        """`announce`: this replica made the transition (from `changed_from`), so it logs and
        persists it (once, not once per replica that later observes it)."""
        previous, self.view = changed_from or self.view, state
        self.adopted += 1
        if announce and previous.state is not state.state:
            # One event name per target state: the guide's troubleshooting greps "circuit.breaker.open".
            logger.info(
                f"circuit.breaker.{state.state.value.lower()}",
                breaker=self.name,
                from_state=previous.state.value,
                to_state=state.state.value,
                failure_count=state.failure_count,
            )
            if self.on_transition is not None:
                self.on_transition(self.name, previous, state)
