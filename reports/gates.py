"""The go-live gates: each maps one check of the migration guide to the evidence that proves it,
and says PASS, FAIL, MISSING (it should have been run and was not) or N/A (it cannot be run
against a deployment). Each gate is a small type behind one interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from golive.reports.evidence import Evidence


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

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult: ...


@dataclass(frozen=True)
class _Gate:
    id: str
    title: str
    spec: str

    def result(
        self, status: Status, detail: str, files: list[str] | None = None, seconds: float = 0.0
    ) -> GateResult:
        return GateResult(self.id, self.title, self.spec, status, detail, files or [], round(seconds, 3))


@dataclass(frozen=True)
class SuiteGate(_Gate):
    """Passes when the suites ran, something passed, and nothing failed."""

    suites: tuple[str, ...] = ()

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        missing = [name for name in self.suites if name not in evidence.suites]
        if missing:
            return self.result(Status.MISSING, f"suite {', '.join(missing)} did not run")
        results = [evidence.suites[name] for name in self.suites]
        files = [f"junit-{name}.xml" for name in self.suites]
        seconds = sum(result.seconds for result in results)
        summary = "; ".join(f"{result.suite.name}: {result.summary()}" for result in results)
        failures = [failure for result in results for failure in result.failures]
        if failures:
            return self.result(Status.FAIL, f"{summary}. First: {failures[0]}", files, seconds)
        if not any(result.passed for result in results):
            if deployment:
                detail = f"{summary} (every test needs the stack)"
                return self.result(Status.NOT_APPLICABLE, detail, files, seconds)
            return self.result(Status.FAIL, f"{summary}: nothing was tested", files, seconds)
        return self.result(Status.PASS, summary, files, seconds)


@dataclass(frozen=True)
class HealthGate(_Gate):
    """The guide's 6.2: every health endpoint answers 200 with the envelope."""

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        if evidence.health is None:
            return self.result(Status.MISSING, "the health checks did not run")
        checks = evidence.health.get("checks", [])
        problems = [f"{check['path']}: {check['problem']}" for check in checks if check.get("problem")]
        answered = ", ".join(f"{check['path']} {check.get('status_code')}" for check in checks)
        seconds = sum(float(check.get("ms") or 0) for check in checks) / 1000
        if not checks or problems:
            detail = "; ".join(problems) or "no endpoint was checked"
            return self.result(Status.FAIL, detail, ["health.json"], seconds)
        return self.result(Status.PASS, answered, ["health.json"], seconds)


@dataclass(frozen=True)
class DrillGate(_Gate):
    drill: str = ""

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        document = evidence.drills.get(self.drill)
        if document is None:
            if deployment:
                return self.result(Status.NOT_APPLICABLE, "drills need a database golive owns")
            return self.result(Status.MISSING, f"the {self.drill} drill did not run")
        files = [f"drill-{self.drill}.json"]
        seconds = float(document.get("seconds") or 0)
        steps = document.get("steps", [])
        checks = [check for step in steps for check in step.get("checks", [])]
        passed = sum(bool(check.get("ok")) for check in checks)
        detail = f"{len(steps)} steps, {passed}/{len(checks)} checks, {document.get('seconds', 0):.1f} s"
        if not document.get("ok"):
            failures = [
                f"{step['name']}: {check['name']}: {check.get('detail', '')}"
                for step in steps
                for check in step.get("checks", [])
                if not check.get("ok")
            ]
            first = failures[0] if failures else f"error: {document.get('error')}"
            return self.result(Status.FAIL, f"{detail}. First: {first}", files, seconds)
        return self.result(Status.PASS, detail, files, seconds)


@dataclass(frozen=True)
class BreakerGate(_Gate):
    """Chaos experiments held, and a breaker was seen to open and then close again."""

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        if not evidence.chaos:
            if deployment:
                return self.result(Status.NOT_APPLICABLE, "faults are injected through the stack's proxy")
            return self.result(Status.MISSING, "no chaos experiment ran")
        files = [journal["_file"] for journal in evidence.chaos]
        seconds = sum(float(journal.get("duration_seconds") or 0) for journal in evidence.chaos)
        held = [journal for journal in evidence.chaos if journal.get("outcome") == "held"]
        recovered = sorted(
            {breaker for journal in evidence.chaos for breaker in _tripped_and_closed(journal)}
        )
        detail = f"{len(held)} of {len(evidence.chaos)} experiments held"
        if len(held) < len(evidence.chaos):
            deviated = [f"{j['experiment']} ({j.get('outcome')})" for j in evidence.chaos if j not in held]
            return self.result(Status.FAIL, f"{detail}; deviated: {', '.join(deviated)}", files, seconds)
        if not recovered:
            detail += ", but no breaker was seen to open and close"
            return self.result(Status.FAIL, detail, files, seconds)
        detail += f"; opened and closed again: {', '.join(recovered)}"
        return self.result(Status.PASS, detail, files, seconds)


def _tripped_and_closed(journal: dict[str, object]) -> list[str]:
    events = journal.get("events", [])
    opened: set[str] = set()
    closed: set[str] = set()
    for event in events if isinstance(events, list) else []:
        detail = event.get("detail", {}) if event.get("kind") in ("breaker", "waited") else {}
        breaker, state = detail.get("breaker"), detail.get("state")
        if breaker and state == "OPEN":
            opened.add(breaker)
        elif breaker in opened and state == "CLOSED":
            closed.add(breaker)
    return sorted(closed)


@dataclass(frozen=True)
class LoadGate(_Gate):
    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        if evidence.load is None:
            return self.result(Status.MISSING, "no load profile ran")
        load = evidence.load
        thresholds = load.get("thresholds", [])
        held = sum(bool(threshold.get("ok")) for threshold in thresholds)
        total = load.get("total", {})
        detail = (
            f"profile {load.get('profile', {}).get('name')}: {held}/{len(thresholds)} thresholds held; "
            f"{total.get('requests_per_second')} req/s, p95 {total.get('p95_ms')} ms, "
            f"{total.get('failures')} failed"
        )
        files = ["load/load.json", "load/timeline.json"]
        seconds = float(load.get("duration_seconds") or 0)
        if not load.get("ok") or not thresholds:
            broken = [threshold["threshold"] for threshold in thresholds if not threshold.get("ok")]
            detail += f"; failed: {', '.join(broken) or 'no threshold'}"
            return self.result(Status.FAIL, detail, files, seconds)
        return self.result(Status.PASS, detail, files, seconds)


@dataclass(frozen=True)
class RateLimitGate(_Gate):
    """The limiter's own tests (resilience suite), and under load the burst journey was throttled
    with the envelope (Locust counts a 429 without it as a failure)."""

    def evaluate(self, evidence: Evidence, deployment: bool) -> GateResult:
        parts: list[str] = []
        files: list[str] = []
        suite = evidence.suites.get("resilience")
        # The load run's time is the load gate's; the resilience suite is no other gate's.
        seconds = suite.seconds if suite is not None else 0.0
        if suite is not None:
            cases = [name for name in suite.failures if "test_rate_limit" in name]
            files.append("junit-resilience.xml")
            if cases:
                return self.result(Status.FAIL, f"rate-limit tests failed: {cases[0]}", files, seconds)
            parts.append("rate-limit tests passed")
        if evidence.load is not None:
            throttled = {
                name: stats
                for name, stats in evidence.load.get("endpoints", {}).items()
                if "(throttled)" in name
            }
            files.append("load/load.json")
            count = sum(int(stats.get("requests", 0)) for stats in throttled.values())
            failures = sum(int(stats.get("failures", 0)) for stats in throttled.values())
            if failures:
                detail = f"{failures} throttled answers broke the contract"
                return self.result(Status.FAIL, detail, files, seconds)
            if count:
                parts.append(f"{count} burst requests throttled under load with 429 and Retry-After")
        if not parts:
            return self.result(Status.MISSING, "neither the resilience suite nor a load run with bursts ran")
        return self.result(Status.PASS, "; ".join(parts), files, seconds)


GATES: tuple[Gate, ...] = (
    HealthGate("health", "Health endpoints", "6.2 Health Check Verification"),
    SuiteGate("envelope", "Error envelope contract", "Standard error response format", ("contract",)),
    SuiteGate("api", "Auth, content and metrics", "API changes", ("api",)),
    SuiteGate("guide", "The guide's test suite", "Automated test suite", ("guide",)),
    BreakerGate("breakers", "Circuit breakers trip and recover", "Circuit breaker behaviour"),
    RateLimitGate("rate-limiting", "Rate limiting", "Rate limiting"),
    SuiteGate("realtime", "Pusher real-time", "Pusher migration, WebSocket fallback", ("realtime",)),
    DrillGate("migration", "Migration up and down", "Database migration", drill="migration"),
    DrillGate("rollback", "Rollback restore", "Rollback procedure", drill="rollback"),
    LoadGate("load", "Load SLOs", "Performance under load"),
    SuiteGate("security", "Security", "Security considerations", ("security",)),
)


def evaluate(evidence: Evidence, deployment: bool) -> list[GateResult]:
    return [gate.evaluate(evidence, deployment) for gate in GATES]
