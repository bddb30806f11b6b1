"""Publishing without waiting: events go to a bounded queue, and one worker sends them in order,
in batches, through the dependency's circuit breaker. A slow or dead real-time service costs a
content job nothing: its events are dropped (and counted), the job goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..logs import get_logger
from ..resilience.background import Background
from ..resilience.circuit import CircuitOpenError
from ..resilience.dependency import Dependency
from .events import Event

logger = get_logger("system_under_test.realtime")

QUEUE_LIMIT = 10_000
BATCH_LIMIT = 10  # Pusher's batch_events accepts at most 10 events
DRAIN_SECONDS = 2.0  # at shutdown, how long queued events may still take


class Transport(Protocol):
    async def send(self, events: Sequence[Event]) -> None: ...


@dataclass
class PublisherStats:
    published: int = 0
    failed: int = 0
    dropped_circuit_open: int = 0
    dropped_queue_full: int = 0
    last_error: str | None = None


class Publisher:
    def __init__(self, transport: Transport, dependency: Dependency) -> None:
        self.transport = transport
        self.dependency = dependency
        self.stats = PublisherStats()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._worker = Background(f"publisher-{dependency.name}")

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            if self._queue.qsize() >= QUEUE_LIMIT:
                self.stats.dropped_queue_full += 1
            else:
                self._queue.put_nowait(event)

    def start(self) -> None:
        self._worker.start(self._send_forever())

    async def stop(self) -> None:
        """Lets the worker send what is queued (for a bounded time), then stops it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await self._queue.join()
        await self._worker.stop()

    async def _send_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_LIMIT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._send_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _send_batch(self, batch: list[Event]) -> None:
        try:
            await self.dependency.call(lambda: self.transport.send(batch))
        except CircuitOpenError:
            self.stats.dropped_circuit_open += len(batch)
        except Exception as error:
            self.stats.failed += len(batch)
            self.stats.last_error = f"{type(error).__name__}: {error}"[:300]
            logger.warning(
                "real-time events not delivered",
                dependency=self.dependency.name,
                events=len(batch),
                error_type=type(error).__name__,
            )
        else:
            self.stats.published += len(batch)
