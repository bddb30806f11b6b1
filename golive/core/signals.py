"""SIGINT, SIGTERM and SIGHUP (a closed terminal) interrupt golive's work alike, and none of them
interrupts a teardown."""

from __future__ import annotations

import select
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

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


def wait_for_stop() -> NoReturn:
    """Blocks until a signal's handler raises (inside `interruptible`: SIGINT, SIGTERM, SIGHUP).

    Not `time.sleep(long)`: Python runs a handler only between two steps of the main thread, so a
    signal whose handler ran just before the sleep's system call began (the main thread between
    its last check and the call, or the signal taken by another thread) went unheeded until the
    sleep ended: `golive up` ignored a SIGHUP for minutes. The wakeup fd is written by the signal's
    own low-level handler, whenever and on whichever thread it runs, so select() returns at once
    however late it is called, and the handler raises on the next step. Main thread only."""
    readable, writable = socket.socketpair()
    readable.setblocking(False)
    writable.setblocking(False)
    previous = signal.set_wakeup_fd(writable.fileno(), warn_on_full_buffer=False)
    try:
        while True:
            select.select([readable], [], [])
            readable.recv(512)  # a signal whose handler did not raise: wait again
    finally:
        signal.set_wakeup_fd(previous)
        readable.close()
        writable.close()
