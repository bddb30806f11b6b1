"""One outbound dependency as the app calls it: bulkhead, then circuit breaker, then the call;
retried (whole, through both) only when the caller says the call is safe to repeat."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from .breaker import Permit
from .bulkhead import Bulkhead, BulkheadFullError
from .circuit import CircuitBreaker, CircuitOpenError
from .retry import RetryPolicy, with_retries

T = TypeVar("T")
_LATENCY_SAMPLES = 1000


@dataclass
class DependencyStats:
    successes: int = 0
    failures: int = 0
    rejected_open: int = 0
    rejected_full: int = 0
    retries: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) if ordered else None

        return {
            "successes": self.successes,
            "failures": self.failures,
            "rejected_circuit_open": self.rejected_open,
            "rejected_bulkhead_full": self.rejected_full,
            "retries": self.retries,
            "latency_ms": {
                "p50": quantile(0.5),
                "p95": quantile(0.95),
                "p99": quantile(0.99),
                "samples": len(ordered),
            },
        }


class DependencyMetrics:
    """Prometheus view of every dependency (one set per app, on the app's registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "resilience_calls_total",
            "Calls to a dependency by outcome: success, failure, circuit_open, bulkhead_full.",
            ["dependency", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "resilience_retries_total", "Retried calls.", ["dependency"], registry=registry
        )
        self.latency = Histogram(
            "resilience_call_duration_seconds",
            "Duration of calls that reached the dependency.",
            ["dependency"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


class Dependency:
    def __init__(
        self,
        name: str,
        breaker: CircuitBreaker,
        bulkhead: Bulkhead | None,
        *,
        is_failure: Callable[[Exception], bool],
        is_retryable: Callable[[Exception], bool] = lambda error: False,
        retry: Callable[[], RetryPolicy],
        breaker_enabled: Callable[[], bool],
        metrics: DependencyMetrics | None = None,
    ) -> None:
        self.name = name
        self.breaker = breaker
        self.bulkhead = bulkhead
        self.is_failure = is_failure
        self.is_retryable = is_retryable
        self.retry = retry
        self.breaker_enabled = breaker_enabled
        self.metrics = metrics
        if metrics is not None:
            # Labelled children looked up once: labels() takes a lock and a dict lookup per call.
            self._latency = metrics.latency.labels(name)
            self._calls = {
                outcome: metrics.calls.labels(name, outcome)
                for outcome in ("success", "failure", "circuit_open", "bulkhead_full")
            }
        self.stats = DependencyStats()

    async def call(self, operation: Callable[[], Awaitable[T]], *, idempotent: bool = False) -> T:
        """`idempotent`: repeating the operation cannot duplicate anything (the caller's promise)."""
        if not idempotent:
            return await self._once(operation)
        return await with_retries(
            lambda: self._once(operation), self.retry(), self._should_retry, on_retry=self._count_retry
        )

    async def _once(self, operation: Callable[[], Awaitable[T]]) -> T:
        # The hot path (every rate-limited request passes here): plain try/except, no context
        # manager generators, no tasks unless there is state to change.
        permit = await self._admit()
        started = time.perf_counter()
        try:
            result = await operation()
        except BaseException as error:
            await self._settle(permit, started, error)
            raise
        await self._settle(permit, started, None)
        return result

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """The block is one call (for work that is not a single awaitable, like a session)."""
        permit = await self._admit()
        started = time.perf_counter()
        try:
            yield
        except BaseException as error:
            await self._settle(permit, started, error)
            raise
        await self._settle(permit, started, None)

    async def _admit(self) -> Permit | None:
        """A bulkhead slot and a breaker permit (None while breakers are off), or the refusal."""
        if self.bulkhead is not None:
            try:
                self.bulkhead.enter()
            except BulkheadFullError:
                self._count("bulkhead_full")
                raise
        if not self.breaker_enabled():
            return None
        try:
            return await self.breaker.acquire()
        except BaseException as error:
            if self.bulkhead is not None:
                self.bulkhead.exit()
            if isinstance(error, CircuitOpenError):
                self._count("circuit_open")
            raise

    async def _settle(self, permit: Permit | None, started: float, error: BaseException | None) -> None:
        """Reports the outcome. An exception `is_failure` counts is a failure; any other means the
        dependency answered (a success); cancellation reports nothing but frees a trial slot."""
        try:
            if error is not None and not isinstance(error, Exception):
                if permit is not None:
                    await asyncio.shield(self.breaker.release(permit))
                return
            failed = error is not None and self.is_failure(error)
            self._observe(started, "failure" if failed else "success")
            if permit is None:
                return
            if error is not None and failed:
                tripped = await asyncio.shield(self.breaker.record_failure(permit))
                if tripped and hasattr(error, "tripped_breaker"):
                    error.tripped_breaker = True  # lets the caller attribute the trip (agent metrics)
            elif self.breaker.success_is_news(permit):
                await asyncio.shield(self.breaker.record_success(permit))
        finally:
            if self.bulkhead is not None:
                self.bulkhead.exit()

    def _observe(self, started: float, outcome: str) -> None:
        elapsed = time.perf_counter() - started
        self.stats.latencies.append(elapsed)
        self._count(outcome)
        if self.metrics is not None:
            self._latency.observe(elapsed)

    def _count(self, outcome: str) -> None:
        if outcome == "success":
            self.stats.successes += 1
        elif outcome == "failure":
            self.stats.failures += 1
        elif outcome == "circuit_open":
            self.stats.rejected_open += 1
        else:
            self.stats.rejected_full += 1
        if self.metrics is not None:
            self._calls[outcome].inc()

    def _should_retry(self, error: Exception) -> bool:
        # An open breaker or a full bulkhead is an answer, not a transient fault: retrying would
        # defeat them.
        return not isinstance(error, CircuitOpenError | BulkheadFullError) and self.is_retryable(error)

    def _count_retry(self, attempt: int, error: Exception) -> None:
        self.stats.retries += 1
        if self.metrics is not None:
            self.metrics.retries.labels(self.name).inc()
