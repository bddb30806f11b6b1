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

from pydantic import BaseModel, ConfigDict, ValidationError

from golive import __version__
from golive.core.documents import first_problem
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


class CommandEntry(BaseModel):
    """One command's entry of run.json, written and read back by this type: a field no command
    writes, or one of the wrong kind, fails where it is written (a test), not in a verdict."""

    model_config = ConfigDict(extra="forbid")

    # Every command's: how it was started, by whom, and how it ended.
    argv: list[str] = []
    started_at: str | None = None  # ISO 8601; as written, a hand-edited one is shown as it is
    golive_version: str | None = None
    owner: str | None = None  # core.owners.identity(): told alive or dead by `golive clean`
    finished_at: str | None = None  # absent: still running, or killed before it could finish
    exit_code: int | None = None
    outcome: str | None = None
    killed: bool = False  # marked by `golive clean` (mark_killed)
    interrupted: bool = False  # Ctrl-C, SIGTERM: what ran is reported, the run is INCOMPLETE
    # What each command adds of its own.
    mode: str | None = None  # validate: quick or full
    gates: list[str] | None = None  # validate --gate: only these gates' stages ran
    focused: bool | None = None  # selftest --focused: each defect's validation only of its gate
    target: str | None = None  # validate, chaos: a deployment's URL (redacted)
    toxiproxy: str | None = None  # validate, chaos: the deployment's Toxiproxy API
    stages: list[dict[str, Any]] | None = None  # validate: each stage's outcome
    verdict: str | None = None  # validate
    stack: str | None = None  # up: the stack description's file
    startup_seconds: dict[str, float] | None = None  # up
    load: dict[str, Any] | None = None  # load
    drills: dict[str, bool] | None = None  # drill: ok by drill
    experiments: dict[str, str] | None = None  # chaos: outcome by experiment
    images: list[str] | None = None  # images build
    caught: int | None = None  # selftest
    defects: int | None = None  # selftest
    outcomes: list[dict[str, Any]] | None = None  # selftest: each defect's

    def merged(self, fields: dict[str, Any]) -> CommandEntry:
        """This entry with `fields` set over it (checked as any entry is)."""
        return CommandEntry.model_validate({**self.model_dump(exclude_unset=True), **fields})


class RunRecord(BaseModel):
    """run.json: the commands that used the run directory, by name."""

    model_config = ConfigDict(extra="forbid")

    commands: dict[str, CommandEntry] = {}

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """The file's record (an empty one if there is none); RunDirError naming what is wrong."""
        if not path.exists():
            return cls()
        try:
            return cls.model_validate_json(path.read_bytes())
        except OSError as error:
            raise RunDirError(f"{path}: cannot read: {error.strerror}") from None
        except ValidationError as error:
            raise RunDirError(f"{path}: not the run.json golive writes: {first_problem(error)}") from None

    def write(self, path: Path) -> None:
        # Of each entry only what was set: one without finished_at is still running (or killed).
        commands = {
            name: entry.model_dump(mode="json", exclude_unset=True) for name, entry in self.commands.items()
        }
        write_atomically(path, json.dumps({"commands": commands}, indent=2))


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
        if once and command in run.meta().commands:
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

    def meta(self) -> RunRecord:
        return RunRecord.read(self.meta_path)

    def record(self, command: str, fields: dict[str, Any]) -> None:
        """Merges `fields` into this command's entry of run.json (commands may share a run dir)."""
        record = self.meta()
        entry = record.commands.get(command, CommandEntry())
        record.commands[command] = entry.merged(json.loads(json.dumps(redact_all(fields), default=str)))
        record.write(self.meta_path)

    def finish(self, exit_code: int, **fields: Any) -> None:
        self.record(self.command, {"finished_at": _now(), "exit_code": exit_code, **fields})

    def release(self) -> None:
        """Lets another command use the directory before this process ends."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _ended(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            entry = self.meta().commands.get(self.command)
            if entry is None or entry.finished_at is None:
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
    record = RunRecord.read(meta_path)
    marked = []
    for command, entry in record.commands.items():
        if entry.owner == owner and entry.finished_at is None:
            record.commands[command] = entry.merged({"finished_at": _now(), "killed": True, "outcome": how})
            marked.append(command)
    if marked:
        record.write(meta_path)
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
