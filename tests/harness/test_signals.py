"""golive/core/signals.py: a stopping signal ends golive's wait for it, wherever its handler ran."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# The main thread blocks the signal, so the kernel hands it to the helper thread: its handler runs
# outside the main thread's wait, as one does that runs just before the wait's system call begins
# (the race that left `golive up` deaf to a SIGHUP for as long as its sleep).
WAITER = """
import signal, sys, threading
from golive.core.signals import interruptible, wait_for_stop

helper = threading.Thread(target=threading.Event().wait, daemon=True)
helper.start()
with interruptible():
    signal.pthread_sigmask(signal.SIG_BLOCK, [int(sys.argv[1])])
    try:
        print("waiting", flush=True)  # the signal may come before the wait begins: caught too
        wait_for_stop()
    except KeyboardInterrupt as stop:
        print(f"stopped by {stop}", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_handled_outside_the_wait_still_ends_it(signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WAITER, str(int(signum))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "waiting\n"
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == 0, err
    assert out == f"stopped by {signum.name}\n"
