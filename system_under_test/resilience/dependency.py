"""One outbound dependency as the app calls it: bulkhead, then circuit breaker, then the call;
retried (whole, through both) only when the caller says the call is safe to repeat."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from system_under_test.resilience.bulkhead import Bulkhead, BulkheadFullError
from system_under_test.resilience.circuit import CircuitBreaker, CircuitOpenError
from system_under_test.resilience.retry import RetryPolicy, with_retries

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
        self.stats = DependencyStats()

    async def call(self, operation: Callable[[], Awaitable[T]], *, idempotent: bool = False) -> T:
        """`idempotent`: repeating the operation cannot duplicate anything (the caller's promise)."""

        async def once() -> T:
            async with self.guard():
                return await operation()

        if not idempotent:
            return await once()
        return await with_retries(once, self.retry(), self._should_retry, on_retry=self._count_retry)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        try:
            async with self.bulkhead.slot() if self.bulkhead else nullcontext(), self._protected():
                yield
        except BulkheadFullError:
            self._count("bulkhead_full")
            raise
        except CircuitOpenError:
            self._count("circuit_open")
            raise

    @asynccontextmanager
    async def _protected(self) -> AsyncIterator[None]:
        if self.breaker_enabled():
            async with self.breaker.protect(self.is_failure), self._timed():
                yield
        else:
            async with self._timed():
                yield

    @asynccontextmanager
    async def _timed(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            self._observe(started, "failure" if self.is_failure(error) else "success")
            raise
        self._observe(started, "success")

    def _observe(self, started: float, outcome: str) -> None:
        elapsed = time.perf_counter() - started
        self.stats.latencies.append(elapsed)
        self._count(outcome)
        if self.metrics is not None:
            self.metrics.latency.labels(self.name).observe(elapsed)

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
            self.metrics.calls.labels(self.name, outcome).inc()

    def _should_retry(self, error: Exception) -> bool:
        # An open breaker or a full bulkhead is an answer, not a transient fault: retrying would
        # defeat them.
        return not isinstance(error, CircuitOpenError | BulkheadFullError) and self.is_retryable(error)

    def _count_retry(self, attempt: int, error: Exception) -> None:
        self.stats.retries += 1
        if self.metrics is not None:
            self.metrics.retries.labels(self.name).inc()
