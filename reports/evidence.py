"""Everything a run directory holds that a report can use, read once and checked: suites' JUnit
files, drills, chaos journals, the load run, the health checks, the environment, run.json.

A run directory may hold the parts of several commands (`--run-dir`): validate, a nightly chaos
run, a CI test run and a load run can each add theirs. What is unreadable is recorded as a
problem of the report, and by file for the gate it is the evidence of, not raised: a broken part
must not hide the others. The gates' evidence (the health checks', the drills', the chaos
journals', the load run's files) is read by the types that wrote it (golive.core.*_evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from golive.core.chaos_evidence import JournalRecord
from golive.core.drill_evidence import DRILL_PATTERN, DrillRecord, drill_named
from golive.core.environment_evidence import ENVIRONMENT_FILE, EnvironmentRecord
from golive.core.health_evidence import HEALTH_FILE, HealthRecord
from golive.core.junit import SUITES, Suite, SuiteResult, read_junit
from golive.core.load_evidence import (
    BASELINE_FILE,
    LOAD_DIR,
    LOAD_FILE,
    TIMELINE_FILE,
    LoadRecord,
    TimelineRecord,
)
from golive.core.owners import is_alive
from golive.core.records import EvidenceError, Record
from golive.core.redaction import redact
from golive.core.rundir import CommandEntry, RunDirError, RunRecord
from golive.fixtures.description import StackDescription, StackFileError
from golive.reports.gate_map import gate_of

Kind = TypeVar("Kind", bound=Record)
STACK_FILE = "stack.json"
# Where the chaos journals are: the chaos stage's, and one run beside the load.
JOURNAL_PATTERNS = ("chaos/*.json", f"{LOAD_DIR}/chaos-*.json")


@dataclass(frozen=True)
class StackShown:
    """What a report shows of the stack: stack.json also holds the JWT key and the users'
    passwords, which it does not."""

    provider: str
    sut: str
    sut_replicas: list[str]
    services: dict[str, str]  # what each service ran as
    dependencies: list[str]  # those the stack started, of postgres, redis, upstream, pusher

    @property
    def deployment(self) -> bool:
        """An existing deployment (--target), not a stack golive ran."""
        return self.provider == "external"


@dataclass
class Evidence:
    run_dir: Path
    meta: RunRecord = field(default_factory=RunRecord)
    suites: dict[str, SuiteResult] = field(default_factory=dict)
    drills: dict[str, DrillRecord] = field(default_factory=dict)  # by drill
    chaos: dict[str, JournalRecord] = field(default_factory=dict)  # by file
    load: LoadRecord | None = None
    timeline: TimelineRecord | None = None
    load_baseline: LoadRecord | None = None  # the earlier run the load run was compared with
    health: HealthRecord | None = None
    environment: EnvironmentRecord | None = None
    stack: StackShown | None = None
    problems: list[str] = field(default_factory=list)
    # Evidence files not as their writers write them, and why (also among the problems): the
    # gate that rests on one says it has no evidence, and why.
    unreadable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, run_dir: Path) -> Evidence:
        evidence = cls(run_dir)
        evidence.meta = evidence._run_record(run_dir / "run.json")
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
        for path in sorted(run_dir.glob(DRILL_PATTERN)):
            drill = evidence._record(DrillRecord, path)
            if drill is not None and drill.drill != drill_named(path):
                evidence._unreadable(path, f"holds the {drill.drill} drill's result")
            elif drill is not None:
                evidence.drills[drill.drill] = drill
        for path in sorted(path for pattern in JOURNAL_PATTERNS for path in run_dir.glob(pattern)):
            journal = evidence._record(JournalRecord, path)
            if journal is not None:
                evidence.chaos[evidence.file(path)] = journal
        load_dir = run_dir / LOAD_DIR
        evidence.load = evidence._record(LoadRecord, load_dir / LOAD_FILE)
        evidence.timeline = evidence._record(TimelineRecord, load_dir / TIMELINE_FILE)
        evidence.load_baseline = evidence._record(LoadRecord, load_dir / BASELINE_FILE)
        evidence.health = evidence._record(HealthRecord, run_dir / HEALTH_FILE)
        evidence.environment = evidence._record(EnvironmentRecord, run_dir / ENVIRONMENT_FILE)
        evidence.stack = evidence._stack(run_dir / STACK_FILE)
        return evidence

    def file(self, path: Path) -> str:
        """A file of the run directory as the report names it."""
        return str(path.relative_to(self.run_dir))

    def _record(self, kind: type[Kind], path: Path) -> Kind | None:
        """Read by the type that wrote it: a file of another shape is a problem of the report."""
        if not path.exists():
            return None
        try:
            return kind.read(path)
        except EvidenceError as error:
            self._unreadable(path, error.reason)
            return None

    def _unreadable(self, path: Path, reason: str) -> None:
        self.problems.append(f"{self.file(path)}: {reason}")
        self.unreadable[self.file(path)] = reason

    def _stack(self, path: Path) -> StackShown | None:
        """Read by the type the stack wrote it with (golive.fixtures.description)."""
        if not path.exists():
            return None
        try:
            stack = StackDescription.read(path)
        except StackFileError as error:
            self._unreadable(path, str(error).removeprefix(f"{path}: "))
            return None
        return StackShown(
            provider=stack.provider,
            sut=redact(stack.sut),  # a --target URL may carry a password
            sut_replicas=[redact(url) for url in stack.sut_replicas],
            services={name: redact(what) for name, what in stack.services.items()},
            dependencies=[
                name
                for name, given in (
                    ("postgres", stack.postgres),
                    ("redis", stack.redis),
                    ("upstream", stack.upstream),
                    ("pusher", stack.pusher),
                )
                if given
            ],
        )

    def _run_record(self, path: Path) -> RunRecord:
        try:
            return RunRecord.read(path)
        except RunDirError as error:
            self._unreadable(path, str(error).removeprefix(f"{path}: "))
            return RunRecord()

    @property
    def commands(self) -> dict[str, CommandEntry]:
        return self.meta.commands

    @property
    def focus(self) -> list[str] | None:
        """The gates a focused validation ran (`golive validate --gate`); None: every gate."""
        validate = self.commands.get("validate")
        return None if validate is None else validate.gates

    @property
    def killed(self) -> list[str]:
        """Commands of this run that ended without finishing (SIGKILL, a crash): their process is
        gone and run.json was never closed, or `golive clean` found what they left."""
        return [
            name
            for name, entry in self.commands.items()
            if entry.killed
            or (entry.finished_at is None and entry.owner is not None and not is_alive(entry.owner))
        ]

    @property
    def interrupted(self) -> bool:
        """A command of this run was stopped before it was done (Ctrl-C, SIGTERM)."""
        return any(entry.exit_code == 130 or entry.interrupted for entry in self.commands.values())
