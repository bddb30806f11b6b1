"""Who owns a record: a process named so that it is never mistaken for a later one with the same
pid (run.json's commands, the temp dirs of a stack)."""

from __future__ import annotations

import os


def identity(pid: int | None = None) -> str:
    """A process as `pid:start time` (clock ticks after boot): a pid alone is reused, this never
    is, so a record of who owns something can tell its owner from a stranger with the same pid."""
    pid = os.getpid() if pid is None else pid
    with open(f"/proc/{pid}/stat") as stat:
        # Field 22; the command name (field 2) may hold spaces and parentheses, so count from ')'.
        return f"{pid}:{stat.read().rsplit(')', 1)[1].split()[19]}"


def is_alive(owner: str) -> bool:
    """Whether the process `identity()` once named still runs (a zombie does not)."""
    pid, _, _ = owner.partition(":")
    try:
        with open(f"/proc/{int(pid)}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        return state != "Z" and identity(int(pid)) == owner
    except (OSError, ValueError, IndexError):
        return False
