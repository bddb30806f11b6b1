"""`golive` run as an operator runs it: a real process, its output captured, bounded in time."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from golive.core import http_clients

GOLIVE = [sys.executable, "-m", "golive"]
# How long a golive asked to stop may take to tear its stack down before it is killed.
TEARDOWN_SECONDS = 60


def run_golive(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run`, except that a golive still running when the test gives up on it (the
    timeout, Ctrl-C, the session ending) is asked to stop, as an operator would, before it is
    killed: killed outright, it would leave its stack's temp dirs (in memory) behind."""
    # Wide enough that rich does not fold the lines the tests look for.
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    with subprocess.Popen(
        [*GOLIVE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
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
        process.kill()
        process.communicate()


def stop(process: subprocess.Popen[str], signum: int) -> None:
    """Signals golive and waits; a golive that does not stop is ended with SIGTERM, then SIGKILL,
    so a failing test does not leave its stack running."""
    process.send_signal(signum)
    try:
        process.wait(TEARDOWN_SECONDS)
    except subprocess.TimeoutExpired:
        end(process)
        raise


def log_in(stack: Mapping[str, Any], role: str) -> httpx.Response:
    """The login of the stack's account of `role` (`golive up --json`'s line), as a client does it."""
    return http_clients.post(f"{stack['sut']}/api/v1/auth/token", json=stack["users"][role], timeout=30)
