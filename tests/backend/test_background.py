"""The backend's background tasks (breaker persistence, refresh, flushes) stop when told to,
whatever their work was awaiting: the app's shutdown waits for them."""

from __future__ import annotations

import asyncio

import pytest

from golive.system_under_test.resilience.background import Background

WATCHDOG_SECONDS = 10.0


async def test_stop_ends_work_whose_awaited_step_finishes_as_it_is_cancelled() -> None:
    """On Python 3.11, `asyncio.wait_for` swallows a cancellation that arrives just as the work it
    waits on finishes (CPython gh-86296): the breaker persister's writer went back to waiting for
    the next state, and stopping it waited forever (CI's lowest-versions job, 300 s timeout)."""
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    wakeup = asyncio.Event()
    ended = []

    async def step() -> None:
        await gate

    async def work() -> None:
        await asyncio.wait_for(step(), timeout=60)
        await wakeup.wait()  # only a cancellation ends this, or the watchdog below
        ended.append("by the watchdog, not by stop()")

    watchdog = loop.call_later(WATCHDOG_SECONDS, wakeup.set)
    background = Background("test")
    background.start(work())
    await asyncio.sleep(0)  # the work is inside wait_for, waiting on the gate
    gate.set_result(None)
    await asyncio.sleep(0)  # the step has finished; wait_for has not yet heard of it
    try:
        await background.stop()  # cancels at once, in this very step of the loop
    finally:
        watchdog.cancel()
    assert ended == []


async def test_stop_hands_on_what_the_work_raised() -> None:
    async def work() -> None:
        raise RuntimeError("broken")

    background = Background("test")
    background.start(work())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match=r"^broken$"):
        await background.stop()
