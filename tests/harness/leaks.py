"""Finding what a command left behind: processes by an environment marker, ports still open."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from golive.fixtures.network import NotReady, wait_until


def new_marker() -> dict[str, str]:
    """An environment variable every descendant of a command inherits, to find them afterwards."""
    return {"GOLIVE_TEST_MARKER": uuid.uuid4().hex}


def marked_processes(marker: dict[str, str]) -> list[int]:
    needle = f"GOLIVE_TEST_MARKER={marker['GOLIVE_TEST_MARKER']}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split(")")[-1].split()[0] != "Z":
                            found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def assert_no_survivors(marker: dict[str, str]) -> None:
    """Every marked process is gone (allowing a moment for the kernel to reap); those that are not
    are named, with their command lines, and killed (the failing test leaves nothing either)."""
    try:
        wait_until(lambda: True if not marked_processes(marker) else None, timeout=15, what="")
    except NotReady:
        survivors = {pid: command_line(pid) for pid in marked_processes(marker)}
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        named = "; ".join(f"{pid}: {command}" for pid, command in survivors.items())
        raise AssertionError(f"still running 15 s later: {named}") from None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False
