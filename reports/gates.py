"""The go-live gates: each maps one check of the migration guide to the evidence that proves it,
and says PASS, FAIL, MISSING (it should have been run and was not) or N/A (it cannot be run
against a deployment). Each gate is a small type behind one interface.

Every test of the suites feeds exactly one gate (reports/gate_map.py): a gate judges its own
evidence (health.json, drills, chaos journals, the load run) together with the tests the table
gives it, and the worst of the two is its status."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath
from typing import Any, Protocol

from golive.core.chaos_evidence import JournalRecord
from golive.core.drill_evidence import drill_file
from golive.core.health_evidence import HEALTH_FILE, HealthCheck
from golive.core.junit import Case
from golive.core.load_evidence import BASELINE_FILE, LOAD_DIR, LOAD_FILE, TIMELINE_FILE, LoadRecord
from golive.core.load_regression import compare
from golive.reports.evidence import JOURNAL_PATTERNS, Evidence
from golive.reports.gate_map import gate_of, not_applicable


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    MISSING = "missing"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class GateResult:
    id: str
    title: str
    spec: str  # the guide's check it stands for
    status: Status
    detail: str
    evidence: list[str] = field(default_factory=list)  # files of the run directory
    seconds: float = 0.0  # how long producing the evidence took (JUnit's testcase time)


class Gate(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def spec(self) -> str: ...

    @property
    def stages(self) -> frozenset[str]:
        """The validation stages whose evidence it judges besides its tests (gate_map.py's):
        `golive validate --gate` runs these and nothing else for it."""
        ...

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult: ...


# Stage names of `golive validate`, as the gates name them (a drill: "drill <name>").
HEALTH_STAGE, CHAOS_STAGE, LOAD_STAGE = "health", "chaos", "load"


@dataclass(frozen=True)
class _Gate:
    id: str
    title: str
    spec: str

    @property
    def stages(self) -> frozenset[str]:
        return frozenset()

    def result(
        self, status: Status, detail: str, files: list[str] | None = None, seconds: float = 0.0
    ) -> GateResult:
        return GateResult(self.id, self.title, self.spec, status, detail, files or [], round(seconds, 3))


@dataclass(frozen=True)
class Part:
    """What one kind of evidence says about a gate; `status` None: there was none."""

    status: Status | None
    detail: str
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


def combine(gate: _Gate, parts: list[Part], none_detail: str) -> GateResult:
    """The worst part decides: FAIL, then MISSING (a part with no evidence is missing), then PASS;
    n/a parts count only when every part is n/a."""
    files = [file for part in parts for file in part.files]
    seconds = sum(part.seconds for part in parts)
    statuses = [part.status or Status.MISSING for part in parts]
    detail = "; ".join(part.detail for part in parts if part.detail) or none_detail
    for status in (Status.FAIL, Status.MISSING):
        if status in statuses:
            shown = "; ".join(p.detail for p, s in zip(parts, statuses, strict=True) if s == status)
            return gate.result(status, shown or none_detail, files, seconds)
    if all(status == Status.NOT_APPLICABLE for status in statuses):
        return gate.result(Status.NOT_APPLICABLE, detail, files, seconds)
    return gate.result(Status.PASS, detail, files, seconds)


def judge_tests(evidence: Evidence, gate_id: str) -> Part:
    """The tests the gate map gives this gate, from every suite's JUnit file."""
    cases: list[Case] = []
    files: list[str] = []
    seconds = 0.0
    for name, suite in evidence.suites.items():
        mine = [case for case in suite.cases if gate_of(case.module) == gate_id]
        if mine:
            cases += mine
            files.append(f"junit-{name}.xml")
            # A suite's time is shared by the gates its tests feed, in proportion.
            seconds += suite.seconds * len(mine) / len(suite.cases)
    if not cases:
        return Part(None, "none of its tests ran")
    broken = [case for case in cases if case.outcome in ("failed", "error")]
    skipped = [case for case in cases if case.outcome == "skipped"]
    unexpected = [case for case in skipped if not not_applicable(case.message)]
    inapplicable = [case for case in skipped if not_applicable(case.message)]
    passed = sum(case.outcome == "passed" for case in cases)
    counts = f"tests: {passed} passed" + "".join(
        f", {count} {label}"
        for label, count in (
            ("failed", len(broken)),
            ("skipped", len(unexpected)),
            ("n/a", len(inapplicable)),
        )
        if count
    )
    if broken:
        first = broken[0]
        verb = "errored" if first.outcome == "error" else "failed"
        return Part(Status.FAIL, f"{counts}. {first.id} {verb}: {first.message}", files, seconds)
    if unexpected:
        first = unexpected[0]
        return Part(Status.MISSING, f"{counts}. {first.id} skipped: {first.message}", files, seconds)
    listed = _listed(inapplicable)
    if not passed:
        if inapplicable:
            return Part(Status.NOT_APPLICABLE, f"{counts}. {listed}", files, seconds)
        return Part(Status.FAIL, f"{counts}: nothing was tested", files, seconds)
    return Part(Status.PASS, f"{counts}. {listed}" if listed else counts, files, seconds)


def _listed(cases: list[Case], shown: int = 3) -> str:
    """The n/a tests, by reason, the first few by name."""
    by_reason: dict[str, list[str]] = {}
    for case in cases:
        by_reason.setdefault(case.message, []).append(case.id)
    parts = []
    for reason, ids in by_reason.items():
        more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
        parts.append(f"n/a ({reason}): {', '.join(ids[:shown])}{more}")
    return "; ".join(parts)


@dataclass(frozen=True)
class TestsGate(_Gate):
    """Judged by its tests alone."""

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        return combine(self, [judge_tests(evidence, self.id)], "none of its tests ran")


# The load run's files, as the gates name them.
LOAD_EVIDENCE = f"{LOAD_DIR}/{LOAD_FILE}"
TIMELINE_EVIDENCE = f"{LOAD_DIR}/{TIMELINE_FILE}"
BASELINE_EVIDENCE = f"{LOAD_DIR}/{BASELINE_FILE}"

# The backend's name for each dependency a stack may start (stack.json's keys): /health reports
# the first three under data.dependencies, /pusher/status reports Pusher as its data.status.
REPORTED_AS = {"postgres": "database", "redis": "redis", "upstream": "upstream", "pusher": "pusher"}
HEALTHY_STATES = frozenset({"up", "healthy", "operational"})


@dataclass(frozen=True)
class HealthGate(_Gate):
    """The guide's 6.2: every health endpoint answers 200 with the envelope, and what they say
    about each dependency the stack started is that it is up."""

    @property
    def stages(self) -> frozenset[str]:
        return frozenset({HEALTH_STAGE})

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        return combine(self, [self._endpoints(evidence)], "the health checks did not run")

    def _endpoints(self, evidence: Evidence) -> Part:
        if evidence.health is None:
            return unreadable(evidence, HEALTH_FILE) or Part(Status.MISSING, "the health checks did not run")
        checks = evidence.health.checks
        problems = [f"{check.path}: {check.problem}" for check in checks if check.problem]
        answered = ", ".join(f"{check.path} {check.status_code}" for check in checks)
        seconds = sum(check.ms or 0 for check in checks) / 1000
        if not checks or problems:
            detail = "; ".join(problems) or "no endpoint was checked"
            return Part(Status.FAIL, detail, [HEALTH_FILE], seconds)
        states = reported_states(checks)
        started = [REPORTED_AS[key] for key in evidence.stack.dependencies] if evidence.stack else []
        unhealthy = [
            f"{name} is reported {states[name]!r}" if name in states else f"{name} is not reported"
            for name in sorted({*started, *states})
            if states.get(name) not in HEALTHY_STATES
        ]
        if unhealthy:
            return Part(Status.FAIL, "; ".join(unhealthy), [HEALTH_FILE], seconds)
        detail = f"{answered}; {', '.join(f'{name} {state}' for name, state in sorted(states.items()))}"
        return Part(Status.PASS, detail, [HEALTH_FILE], seconds)


def reported_states(checks: list[HealthCheck]) -> dict[str, str]:
    """Each dependency's state as the recorded answers give it (the backend's envelope: its `data`
    says it, not golive)."""
    states: dict[str, str] = {}
    for check in checks:
        data = _mapping(_mapping(check.body).get("data"))
        if check.path == "/health":
            for name, dependency in _mapping(data.get("dependencies")).items():
                states[name] = str(_mapping(dependency).get("status"))
        elif check.path == "/pusher/status" and "status" in data:
            states["pusher"] = str(data["status"])
    return states


def _mapping(value: object) -> dict[str, Any]:
    """A JSON object of an answer, or an empty one for whatever else the backend sent."""
    return value if isinstance(value, dict) else {}


def unreadable(evidence: Evidence, file: str) -> Part | None:
    """The gate's evidence file is there but not as its writer writes it: no evidence, and why."""
    reason = evidence.unreadable.get(file)
    return None if reason is None else Part(Status.MISSING, f"{file}: {reason}", [file])


@dataclass(frozen=True)
class DrillGate(_Gate):
    drill: str = ""

    @property
    def stages(self) -> frozenset[str]:
        return frozenset({drill_stage(self.drill)})

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        file = drill_file(self.drill)
        result = evidence.drills.get(self.drill)
        if result is None:
            broken = unreadable(evidence, file)
            if broken is not None:
                return self.result(Status.MISSING, broken.detail, broken.files)
            if deployment:
                reason = "drills need a database golive owns (--database-url: an empty one on its server)"
                return self.result(Status.NOT_APPLICABLE, reason)
            return self.result(Status.MISSING, f"the {self.drill} drill did not run")
        checks = result.checks
        passed = sum(check.ok for check in checks)
        detail = f"{len(result.steps)} steps, {passed}/{len(checks)} checks, {result.seconds:.1f} s"
        detail += "".join(
            f"; n/a: {step.name} ({step.not_applicable})" for step in result.steps if step.not_applicable
        )
        if not result.ok:
            return self.result(Status.FAIL, f"{detail}. First: {result.failures[0]}", [file], result.seconds)
        return self.result(Status.PASS, detail, [file], result.seconds)


@dataclass(frozen=True)
class BreakerGate(_Gate):
    """Chaos experiments held, and a breaker was seen to open and then close again; and the
    resilience suite's breaker, bulkhead and shared-state tests."""

    @property
    def stages(self) -> frozenset[str]:
        return frozenset({CHAOS_STAGE})

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        parts = [self._chaos(evidence, deployment), judge_tests(evidence, self.id)]
        return combine(self, parts, "no chaos experiment ran")

    def _chaos(self, evidence: Evidence, deployment: bool) -> Part:
        # An experiment its target could not run (a deployment) is listed with the reason, never
        # counted as held; the gate rests on those that ran.
        journals = {file: journal for file, journal in evidence.chaos.items() if journal.outcome != "n/a"}
        inapplicable = [journal for journal in evidence.chaos.values() if journal.outcome == "n/a"]
        listed = "".join(
            f"; n/a: {journal.experiment} ({journal.not_applicable})" for journal in inapplicable
        )
        broken = [
            f"{file}: {reason}"
            for file, reason in evidence.unreadable.items()
            if any(PurePath(file).match(pattern) for pattern in JOURNAL_PATTERNS)
        ]
        if not journals and not broken:
            if inapplicable:
                detail = f"chaos: no experiment could run against the deployment{listed}"
                return Part(Status.NOT_APPLICABLE, detail, list(evidence.chaos))
            if deployment:
                return Part(
                    Status.NOT_APPLICABLE,
                    "chaos: n/a (without --toxiproxy: the faults need a Toxiproxy in front of the "
                    "deployment's dependencies)",
                )
            return Part(Status.MISSING, "no chaos experiment ran")
        files = list(evidence.chaos)
        seconds = sum(journal.duration_seconds for journal in journals.values())
        held = [journal for journal in journals.values() if journal.held]
        recovered = sorted(
            {breaker for journal in journals.values() for breaker in _tripped_and_closed(journal)}
        )
        detail = f"{len(held)} of {len(journals)} experiments held"
        if len(held) < len(journals):
            deviated = [_why_not_held(journal) for journal in journals.values() if not journal.held]
            return Part(Status.FAIL, f"{detail}; deviated: {'; '.join(deviated)}{listed}", files, seconds)
        if broken:
            return Part(Status.MISSING, f"{detail}; unreadable: {'; '.join(broken)}{listed}", files, seconds)
        if not recovered:
            return Part(
                Status.FAIL, f"{detail}, but no breaker was seen to open and close{listed}", files, seconds
            )
        return Part(
            Status.PASS, f"{detail}; opened and closed again: {', '.join(recovered)}{listed}", files, seconds
        )


def _why_not_held(journal: JournalRecord) -> str:
    """The experiment, its outcome and what gave it away: its first failed check (which names the
    replica when the experiment had several) or the error that stopped it."""
    failed = [check for check in journal.checks if not check.ok]
    errors = [event.error for event in journal.events if event.error is not None]
    if failed:
        reason = f": {failed[0].name}: {failed[0].detail}"
    elif errors:
        reason = f": {errors[0]}"
    else:
        reason = ""
    return f"{journal.experiment} ({journal.outcome}){reason}"


def _tripped_and_closed(journal: JournalRecord) -> list[str]:
    """The breakers seen to open, and then to close again."""
    opened: set[str] = set()
    closed: set[str] = set()
    for change in (event.breaker for event in journal.events):
        if change is not None and change.state == "OPEN":
            opened.add(change.breaker)
        elif change is not None and change.breaker in opened and change.state == "CLOSED":
            closed.add(change.breaker)
    return sorted(closed)


@dataclass(frozen=True)
class LoadGate(_Gate):
    """The profile's thresholds held, and no endpoint is slower than the baseline run allows
    (golive.core.load_regression; n/a, and said so, when no baseline applies)."""

    @property
    def stages(self) -> frozenset[str]:
        return frozenset({LOAD_STAGE})

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        if evidence.load is None:
            broken = unreadable(evidence, LOAD_EVIDENCE)
            return combine(
                self, [broken or Part(Status.MISSING, "no load profile ran")], "no load profile ran"
            )
        baseline = unreadable(evidence, BASELINE_EVIDENCE)
        regression = baseline or self._regression(evidence.load, evidence.load_baseline)
        return combine(self, [self._thresholds(evidence.load), regression], "no load profile ran")

    def _thresholds(self, load: LoadRecord) -> Part:
        thresholds = load.thresholds
        held = sum(threshold.ok for threshold in thresholds)
        total = load.total
        detail = (
            f"profile {load.profile.name}: {held}/{len(thresholds)} thresholds held; "
            f"{total.requests_per_second} req/s, p95 {total.p95_ms} ms, {total.failures} failed"
        )
        files = [LOAD_EVIDENCE, TIMELINE_EVIDENCE]
        if held < len(thresholds) or not thresholds:
            broken = [threshold.threshold for threshold in thresholds if not threshold.ok]
            detail += f"; failed: {', '.join(broken) or 'no threshold'}"
            return Part(Status.FAIL, detail, files, load.duration_seconds)
        return Part(Status.PASS, detail, files, load.duration_seconds)

    def _regression(self, load: LoadRecord, baseline: LoadRecord | None) -> Part:
        regression = compare(load, baseline)
        files = [] if baseline is None else [BASELINE_EVIDENCE]
        if regression.not_compared is not None:
            return Part(Status.NOT_APPLICABLE, regression.summary, files)
        return Part(Status.FAIL if regression.regressed else Status.PASS, regression.summary, files)


@dataclass(frozen=True)
class RateLimitGate(_Gate):
    """The limiter's own tests, and under load the burst journey was throttled with the envelope
    (Locust counts a 429 without it as a failure of the journey)."""

    @property
    def stages(self) -> frozenset[str]:
        return frozenset({LOAD_STAGE})

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        parts = [judge_tests(evidence, self.id), self._under_load(evidence)]
        return combine(self, parts, "neither the limiter's tests nor a load run ran")

    def _under_load(self, evidence: Evidence) -> Part:
        if evidence.load is None:
            return unreadable(evidence, LOAD_EVIDENCE) or Part(Status.MISSING, "no load run")
        # Only the burst journey's requests, as the load run marked them: a journey that waits out
        # a 429 (a retried log-in) proves the limiter answered, not that it holds a burst back.
        burst = [figures for figures in evidence.load.endpoints.values() if figures.expects_throttle]
        files = [LOAD_EVIDENCE]  # the load run's time is the load gate's
        throttled = sum(figures.requests for figures in burst if figures.throttled)
        failures = sum(figures.failures for figures in burst)
        if not burst:
            return Part(Status.MISSING, "the load run had no burst journey", files)
        if failures:
            return Part(Status.FAIL, f"{failures} burst requests broke the 429 contract under load", files)
        if not throttled:
            return Part(Status.FAIL, "under load, no burst request was throttled", files)
        return Part(
            Status.PASS, f"{throttled} burst requests throttled under load with 429 and Retry-After", files
        )


GATES: tuple[Gate, ...] = (
    HealthGate("health", "Health endpoints", "6.2 Health Check Verification"),
    TestsGate("envelope", "Error envelope contract", "Standard error response format"),
    TestsGate("api", "Auth, content and metrics", "API changes"),
    TestsGate("guide", "The guide's test suite", "Automated test suite"),
    BreakerGate("breakers", "Circuit breakers and bulkhead", "Circuit breaker behaviour, bulkhead"),
    RateLimitGate("rate-limiting", "Rate limiting", "Rate limiting"),
    TestsGate("idempotency", "Idempotency and retries", "Idempotency keys, retries, interrupted jobs"),
    TestsGate("realtime", "Pusher real-time", "Pusher migration, WebSocket fallback"),
    DrillGate("migration", "Migration up and down", "Database migration", drill="migration"),
    DrillGate("rollback", "Rollback restore", "Rollback procedure", drill="rollback"),
    DrillGate(
        "flags", "Feature flags and partial rollback", "Feature flags, partial rollback", drill="flags"
    ),
    DrillGate("backup", "Backup integrity", "Backups restore intact", drill="backup"),
    LoadGate("load", "Load SLOs", "Performance under load"),
    TestsGate("security", "Security", "Security considerations"),
)


GATE_IDS = tuple(gate.id for gate in GATES)


def drill_stage(drill: str) -> str:
    return f"drill {drill}"


def evaluate(evidence: Evidence, deployment: bool) -> list[GateResult]:
    """Every gate's result; a validation focused on some gates (`--gate`) ran nothing for the
    others, which are missing, and said to be."""
    focus = evidence.focus
    results = []
    for gate in GATES:
        if focus is not None and gate.id not in focus:
            chosen = ", ".join(focus)
            results.append(
                GateResult(
                    gate.id, gate.title, gate.spec, Status.MISSING, f"not part of this run (--gate {chosen})"
                )
            )
        else:
            results.append(gate.evaluate(evidence, deployment))
    return results
