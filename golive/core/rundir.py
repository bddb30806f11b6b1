"""Run directories: every golive command writes its artifacts into one, `reports/out/<run-id>/`.

A run directory is self-describing (`run.json`), so a report can be rebuilt from it alone, and
several commands may add their parts to the same one (`--run-dir`), one after the other: a
command holds the directory's lock for its life, so a second one at the same time is refused
rather than mixing two stacks in one `stack.json`.

The directory is its owner's alone (0700): it holds the stack's secrets (`stack.json`, 0600).
`run.json` holds none (URLs are redacted before they are written), and it names the process
of each command, so a command killed before it could finish is told from one still running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import __version__
from golive.core.owners import identity
from golive.core.redaction import redact, redact_all

DEFAULT_BASE = Path("reports") / "out"
LOCK_FILE = ".lock"


def new_run_id(command: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{moment}-{command}-{secrets.token_hex(2)}"


def write_atomically(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never half of one (a full disk fails the write
    of the temp file, which is removed, and the old file stays)."""
    content = data.encode() if isinstance(data, str) else data
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(content)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@dataclass
class RunDir:
    path: Path
    command: str
    _lock: int | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls, command: str, explicit: Path | None = None, base: Path | None = None, *, once: bool = False
    ) -> RunDir:
        """The run directory, locked. `once`: the command judges everything in the directory (a
        verdict), so one where it ran before is refused: its evidence and logs would mix."""
        path = explicit if explicit is not None else (base or DEFAULT_BASE) / new_run_id(command)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path}: exists and is not a directory")
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)  # an existing one too: it is about to hold secrets
        except OSError as error:
            raise RunDirError(f"{path}: cannot create: {error.strerror}") from None
        run = cls(path.resolve(), command)
        run._lock = _lock(run.path)
        if once and command in run.meta().get("commands", {}):
            run.release()
            raise RunDirError(
                f"{path}: holds an earlier `golive {command}` run, whose evidence would mix with this "
                "one's; give a new --run-dir"
            )
        argv = [redact(argument) for argument in sys.argv]
        run.record(
            command,
            {"argv": argv, "started_at": _now(), "golive_version": __version__, "owner": identity()},
        )
        # A command that ends without finish() (the pytest plugin's) still ends: only one that
        # was killed leaves its entry open.
        atexit.register(run._ended)
        return run

    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    def meta(self) -> dict[str, Any]:
        if not self.meta_path.exists():
            return {"commands": {}}
        data: dict[str, Any] = json.loads(self.meta_path.read_text())
        return data

    def record(self, command: str, fields: dict[str, Any]) -> None:
        """Merges `fields` into this command's entry of run.json (commands may share a run dir)."""
        data = self.meta()
        data.setdefault("commands", {}).setdefault(command, {}).update(redact_all(fields))
        write_atomically(self.meta_path, json.dumps(data, indent=2, default=str))

    def finish(self, exit_code: int, **fields: Any) -> None:
        self.record(self.command, {"finished_at": _now(), "exit_code": exit_code, **fields})

    def release(self) -> None:
        """Lets another command use the directory before this process ends."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _ended(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if "finished_at" not in self.meta().get("commands", {}).get(self.command, {}):
                self.record(self.command, {"finished_at": _now()})


class RunDirError(ValueError):
    pass


def run_dir_of(path: Path) -> Path | None:
    """The run directory `path` (a log dir) is in, if any."""
    return next((parent for parent in (path, *path.parents) if (parent / "run.json").is_file()), None)


def mark_killed(run_dir: Path, owner: str, how: str) -> list[str]:
    """Closes the entries of run.json that the process `owner` opened and never finished (it was
    killed); the commands marked."""
    meta_path = run_dir / "run.json"
    data = json.loads(meta_path.read_text())
    marked = []
    for command, entry in data.get("commands", {}).items():
        if entry.get("owner") == owner and "finished_at" not in entry:
            entry.update(finished_at=_now(), killed=True, outcome=how)
            marked.append(command)
    if marked:
        write_atomically(meta_path, json.dumps(data, indent=2))
    return marked


def _lock(path: Path) -> int:
    """The directory's lock, held until the descriptor closes (at the latest when the process
    ends, however it ends); the holder's pid is in the file for the message of the refused."""
    lock_path = path / LOCK_FILE
    try:
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise RunDirError(f"{lock_path}: cannot open: {error.strerror}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(handle, 32).decode(errors="replace").strip() or "?"
        os.close(handle)
        raise RunDirError(
            f"{path}: in use by another golive command (pid {holder}); "
            "wait for it to end, or give another --run-dir"
        ) from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, str(os.getpid()).encode(), 0)
    return handle


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
