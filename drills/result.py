"""What a drill did and found: steps (timed, with their locks and rewrites), checks (each passed
or failed with a precise detail) and warnings; written as JSON into the run directory, shown as
a table on the terminal."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    revision: str | None = None  # where the database is after the step
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    locks: list[dict[str, Any]] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str, problems: list[str]) -> bool:
        """Records a check that passes when `problems` is empty (its detail lists them)."""
        self.checks.append(Check(name, not problems, "; ".join(problems)))
        return not problems


@dataclass
class DrillResult:
    drill: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    steps: list[Step] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    _started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and all(step.ok for step in self.steps)

    @property
    def failures(self) -> list[str]:
        found = [
            f"{step.name}: {check.name}: {check.detail}"
            for step in self.steps
            for check in step.checks
            if not check.ok
        ]
        return found + ([f"error: {self.error}"] if self.error else [])

    @property
    def warnings(self) -> list[str]:
        return [f"{step.name}: {warning}" for step in self.steps for warning in step.warnings]

    def finish(self) -> DrillResult:
        self.seconds = round(time.perf_counter() - self._started, 3)
        return self

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("_started")
        document["ok"] = self.ok
        for step, data in zip(self.steps, document["steps"], strict=True):
            data["ok"] = step.ok
        return document

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"drill-{self.drill}.json"
        path.write_text(json.dumps(self.to_json(), indent=2))
        return path

    def table(self) -> Table:
        table = Table(title=f"drill {self.drill}", title_justify="left")
        for heading in ("step", "seconds", "revision", "checks", "locks held longest"):
            table.add_column(heading, overflow="fold")
        for step in self.steps:
            passed = sum(check.ok for check in step.checks)
            verdict = (
                f"{passed}/{len(step.checks)}"
                + ("" if step.ok else " FAIL")
                + (" !" if step.warnings else "")
            )
            longest = max(step.locks, key=lambda lock: lock["held_ms"], default=None)
            held = f"{longest['table']} {longest['mode']} {longest['held_ms']} ms" if longest else ""
            table.add_row(step.name, f"{step.seconds:.2f}", step.revision or "-", verdict, held)
        return table
