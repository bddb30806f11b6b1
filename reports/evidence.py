"""Everything a run directory holds that a report can use, read once and checked: suites' JUnit
files, drills, chaos journals, the load run, the health checks, the environment, run.json.

A run directory may hold the parts of several commands (`--run-dir`): validate, a nightly chaos
run, a CI test run and a load run can each add theirs. What is unreadable is recorded as a
problem of the report, not raised: a broken part must not hide the others. The load run's files
are read by the types that wrote them (golive.core.load_evidence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from golive.core.junit import SUITES, Suite, SuiteResult, read_junit
from golive.core.load_evidence import (
    BASELINE_FILE,
    LOAD_DIR,
    LOAD_FILE,
    TIMELINE_FILE,
    LoadEvidenceError,
    LoadRecord,
    TimelineRecord,
)
from golive.core.owners import is_alive
from golive.core.redaction import redact_all
from golive.reports.gate_map import gate_of

Record = TypeVar("Record", LoadRecord, TimelineRecord)


@dataclass
class Evidence:
    run_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)
    suites: dict[str, SuiteResult] = field(default_factory=dict)
    drills: dict[str, dict[str, Any]] = field(default_factory=dict)
    chaos: list[dict[str, Any]] = field(default_factory=list)
    load: LoadRecord | None = None
    timeline: TimelineRecord | None = None
    load_baseline: LoadRecord | None = None  # the earlier run the load run was compared with
    health: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    stack: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, run_dir: Path) -> Evidence:
        evidence = cls(run_dir)
        evidence.meta = evidence._json(run_dir / "run.json") or {}
        for path in sorted(run_dir.glob("junit-*.xml")):
            name = path.stem.removeprefix("junit-")
            suite = SUITES.get(name, Suite(name, name, ()))
            try:
                evidence.suites[name] = read_junit(suite, path)
            except Exception as error:  # ParseError, and whatever a truncated file raises
                evidence.problems.append(f"{path.name}: unreadable JUnit XML ({error})")
                continue
            # A test no gate judges would leave a GO that does not rest on it.
            evidence.problems += [
                f"{path.name}: {case.id} feeds no gate (reports/gate_map.py)"
                for case in evidence.suites[name].cases
                if gate_of(case.module) is None
            ]
        for path in sorted(run_dir.glob("drill-*.json")):
            document = evidence._json(path)
            if document is not None:
                evidence.drills[str(document.get("drill", path.stem.removeprefix("drill-")))] = document
        for path in sorted([*run_dir.glob("chaos/*.json"), *run_dir.glob("load/chaos-*.json")]):
            document = evidence._json(path)
            if document is not None:
                evidence.chaos.append({**document, "_file": str(path.relative_to(run_dir))})
        load_dir = run_dir / LOAD_DIR
        evidence.load = evidence._record(LoadRecord, load_dir / LOAD_FILE)
        evidence.timeline = evidence._record(TimelineRecord, load_dir / TIMELINE_FILE)
        evidence.load_baseline = evidence._record(LoadRecord, load_dir / BASELINE_FILE)
        evidence.health = evidence._json(run_dir / "health.json")
        evidence.environment = evidence._json(run_dir / "environment.json")
        stack = evidence._json(run_dir / "stack.json")
        # The stack file holds the JWT key and the users' passwords: keep what a report shows.
        if stack is not None:
            shown = {key: stack.get(key) for key in ("provider", "services", "sut", "sut_replicas")}
            shown["dependencies"] = [
                key for key in ("postgres", "redis", "upstream", "pusher") if stack.get(key)
            ]
            evidence.stack = redact_all(shown)  # a --target URL may carry a password
        return evidence

    def _record(self, kind: type[Record], path: Path) -> Record | None:
        """Read by the type that wrote it: a file of another shape is a problem of the report."""
        if not path.exists():
            return None
        try:
            return kind.read(path)
        except LoadEvidenceError as error:
            self.problems.append(f"{path.relative_to(self.run_dir)}: {error.reason}")
            return None

    def _json(self, path: Path) -> Any:
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            self.problems.append(f"{path.relative_to(self.run_dir)}: unreadable ({error})")
            return None

    @property
    def commands(self) -> dict[str, dict[str, Any]]:
        commands: dict[str, dict[str, Any]] = self.meta.get("commands", {})
        return commands

    @property
    def killed(self) -> list[str]:
        """Commands of this run that ended without finishing (SIGKILL, a crash): their process is
        gone and run.json was never closed, or `golive clean` found what they left."""
        return [
            name
            for name, entry in self.commands.items()
            if entry.get("killed")
            or ("finished_at" not in entry and "owner" in entry and not is_alive(str(entry["owner"])))
        ]

    @property
    def interrupted(self) -> bool:
        """A command of this run was stopped before it was done (Ctrl-C, SIGTERM)."""
        return any(
            entry.get("exit_code") == 130 or entry.get("interrupted") for entry in self.commands.values()
        )
