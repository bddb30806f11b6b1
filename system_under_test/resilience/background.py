"""Work that runs beside the requests for as long as the app does (refresh, persistence)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

_RECANCEL_SECONDS = 0.1


class Background:
    """One named background task: `start()` in the lifespan, `stop()` cancels it and waits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        self._task = asyncio.get_running_loop().create_task(work, name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        # Cancelled again until it ends: on Python 3.11, `asyncio.wait_for` swallows a cancellation
        # that arrives as the work it awaits finishes (CPython gh-86296), and the work goes on to
        # wait for its next turn, for ever. Waiting with `asyncio.wait` also leaves a cancellation
        # of the caller itself to the caller.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=_RECANCEL_SECONDS)
        if not task.cancelled():
            task.result()  # what the work raised, if it raised
