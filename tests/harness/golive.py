"""`golive` run as an operator runs it: a real process, its output captured, bounded in time."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from golive.core import http_clients
from tests.harness.leaks import command_line

GOLIVE = [sys.executable, "-m", "golive"]
# How long a golive asked to stop may take to tear its stack down before it is killed.
TEARDOWN_SECONDS = 60


def run_golive(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
    program: Sequence[str] = GOLIVE,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run`, except that a golive still running when the test gives up on it (the
    timeout, Ctrl-C, the session ending) is asked to stop, as an operator would, before it is
    killed: killed outright, it would leave its stack's temp dirs (in memory) behind."""
    # Wide enough that rich does not fold the lines the tests look for.
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    with subprocess.Popen(
        [*program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, cwd=cwd
    ) as process:
        stdout, stderr = communicate(process, timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def spawn_up(
    run_dir: Path, marker: dict[str, str], *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GOLIVE, "up", "--json", "--run-dir", str(run_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker, **(env or {})},
    )


def first_line(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "golive up printed nothing"
    line = process.stdout.readline()
    assert line, f"golive up ended without a line: {process.stderr.read() if process.stderr else ''}"
    document: dict[str, Any] = json.loads(line)
    return document


def communicate(process: subprocess.Popen[str], timeout: float) -> tuple[Any, Any]:
    """`process.communicate(timeout=...)`, but a process still running when it times out (or the
    test is interrupted) is ended first, so a failing test leaves neither it nor its stack."""
    try:
        return process.communicate(timeout=timeout)
    except BaseException:
        end(process)
        raise


def end(process: subprocess.Popen[str]) -> None:
    """SIGTERM (golive tears its stack down, as on Ctrl-C), then SIGKILL if it does not end."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.communicate(timeout=TEARDOWN_SECONDS)  # reading its output: a full pipe would block it
    except subprocess.TimeoutExpired:
        if process.poll() is None:  # else it ended, and what still holds its output is a child's
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], signum: int, within: float = TEARDOWN_SECONDS) -> None:
    """Signals golive and waits; a golive that does not stop fails the test naming what of it was
    still running, and is ended with SIGTERM, then SIGKILL, so it does not leave its stack running."""
    process.send_signal(signum)
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        pids = [process.pid, *descendants(process.pid)]
        running = "\n".join(f"{pid}: {command_line(pid)[:200]}" for pid in pids)
        end(process)
        raise AssertionError(
            f"golive did not stop within {within:.0f} s of {signal.Signals(signum).name}; "
            f"running then:\n{running}"
        ) from None


def descendants(pid: int) -> list[int]:
    """The process's children, theirs, and so on (Linux: /proc/PID/task/TID/children)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, children.read_text().split()):
                found += [child, *descendants(child)]
    return found


def log_in(stack: Mapping[str, Any], role: str) -> httpx.Response:
    """The login of the stack's account of `role` (`golive up --json`'s line), as a client does it."""
    return http_clients.post(f"{stack['sut']}/api/v1/auth/token", json=stack["users"][role], timeout=30)
