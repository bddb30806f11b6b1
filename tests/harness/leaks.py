"""Finding what a command left behind: processes by an environment marker, or by the ports they
served."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from golive.core.owners import identity, is_alive
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
                if needle in environ.read().split(b"\0") and running(int(entry)):
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def assert_no_survivors(marker: dict[str, str]) -> None:
    """Every marked process is gone (allowing a moment for the kernel to reap); those that are not
    are named, with their command lines, and killed (the failing test leaves nothing either)."""
    assert_ended(lambda: marked_processes(marker))


def assert_gone(processes: set[str]) -> None:
    """As assert_no_survivors, for these processes (by `identity()`: a pid reused meanwhile is not
    one of them)."""
    assert_ended(lambda: [int(process.partition(":")[0]) for process in processes if is_alive(process)])


def assert_ended(survivors_now: Callable[[], list[int]]) -> None:
    try:
        wait_until(lambda: True if not survivors_now() else None, timeout=15, what="")
    except NotReady:
        survivors = {pid: command_line(pid) for pid in survivors_now()}
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


def listeners(urls: list[str]) -> set[str]:
    """The processes listening on the URLs' ports on this machine (as root, anyone's; otherwise
    this user's). Once a stack has stopped its ports are free, and another program on the machine
    may take one at once: whether its servers are gone is asked of their processes, not ports."""
    ports = {urlsplit(url).port for url in urls}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) in ports:  # LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    found: set[str] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                        found.add(identity(int(entry)))
                        break
    return found


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
