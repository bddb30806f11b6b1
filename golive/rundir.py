"""Run directories: every golive command writes its artifacts into one, `reports/out/<run-id>/`.

A run directory is self-describing (`run.json`), so a report can be rebuilt from it alone, and
several commands may add their parts to the same one (`--run-dir`).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import __version__

DEFAULT_BASE = Path("reports") / "out"
# user:password@ in a URL (a --database-url): artifacts are shared, passwords are not.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*):[^/@\s]*@")


def redact_credentials(text: str) -> str:
    return _CREDENTIALS.sub(r"\g<scheme>:***@", text)


def new_run_id(command: str, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{moment}-{command}-{secrets.token_hex(2)}"


@dataclass
class RunDir:
    path: Path
    command: str

    @classmethod
    def create(cls, command: str, explicit: Path | None = None, base: Path | None = None) -> RunDir:
        path = explicit if explicit is not None else (base or DEFAULT_BASE) / new_run_id(command)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path}: exists and is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirError(f"{path}: cannot create: {error.strerror}") from None
        run = cls(path.resolve(), command)
        argv = [redact_credentials(argument) for argument in sys.argv]
        run.record(command, {"argv": argv, "started_at": _now(), "golive_version": __version__})
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
        data.setdefault("commands", {}).setdefault(command, {}).update(fields)
        self.meta_path.write_text(json.dumps(data, indent=2, default=str))

    def finish(self, exit_code: int, **fields: Any) -> None:
        self.record(self.command, {"finished_at": _now(), "exit_code": exit_code, **fields})


class RunDirError(ValueError):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
