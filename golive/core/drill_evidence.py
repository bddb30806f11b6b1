"""A drill's evidence, `drill-NAME.json`: what the drill did and found, steps (timed, with their
locks and rewrites), checks (each passed or failed with a precise detail) and warnings. The drills
write it with these types (golive.drills.result adds the timing and the terminal's table) and the
report reads it back with the same ones (`read`, golive.core.records), so a change on either side
breaks a test, not a gate. It lives here, below both, because the report may not import the drills
(docs/architecture.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, computed_field

from golive.core.records import Record

# drill-NAME.json, in the run directory.
DRILL_PREFIX = "drill-"
DRILL_PATTERN = f"{DRILL_PREFIX}*.json"


def drill_file(name: str) -> str:
    return f"{DRILL_PREFIX}{name}.json"


def drill_named(path: Path) -> str:
    """The drill whose evidence a drill-NAME.json file is."""
    return path.stem.removeprefix(DRILL_PREFIX)


class _Record(Record):
    evidence: ClassVar[str] = "a drill result"


class Check(_Record):
    name: str
    ok: bool
    detail: str = ""


class Lock(_Record):
    """A lock a step's migration held on a table, the longest it was seen held."""

    table: str
    mode: str  # the strongest mode seen
    held_ms: float


class Step(_Record):
    # Files written before a step could be n/a have no reason: each of their steps ran.
    added_later: ClassVar[frozenset[str]] = frozenset({"not_applicable"})

    name: str
    seconds: float = 0.0
    revision: str | None = None  # where the database is after the step
    checks: list[Check] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    locks: list[Lock] = Field(default_factory=list)
    rewrites: list[str] = Field(default_factory=list)  # tables whose storage the step rewrote
    figures: dict[str, Any] = Field(default_factory=dict)  # what the step counted, for the reader
    # Why the step could not run for this backend (the report lists it): None when it ran.
    not_applicable: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str, problems: list[str]) -> bool:
        """Records a check that passes when `problems` is empty (its detail lists them)."""
        self.checks.append(Check(name=name, ok=not problems, detail="; ".join(problems)))
        return not problems


class DrillRecord(_Record):
    drill: str
    started_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    steps: list[Step] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)  # what the drill ran with
    error: str | None = None  # what stopped the drill before its last step

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.error is None and all(step.ok for step in self.steps)

    @property
    def checks(self) -> list[Check]:
        return [check for step in self.steps for check in step.checks]

    @property
    def failures(self) -> list[str]:
        """Each failed check, `step: check: detail`, and the error that stopped the drill."""
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

    def write_into(self, run_dir: Path) -> Path:
        """drill-NAME.json in the run directory."""
        return self.write(run_dir / drill_file(self.drill))
