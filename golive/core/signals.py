"""SIGINT, SIGTERM and SIGHUP (a closed terminal) interrupt golive's work alike, and none of them
interrupts a teardown."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT is installed explicitly too: a shell starts background jobs with SIGINT ignored,
    and Python then never turns it into KeyboardInterrupt."""
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOPPING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Teardown runs to its end: a second Ctrl-C must not leave half the stack running. Off the
    main thread there is nothing to shield: signals interrupt the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOPPING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
