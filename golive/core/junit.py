"""The go-live suites by name, and their results read back from the JUnit XML a pytest run
wrote: what the suites stage reports and what the report is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

# The one reason a go-live suite's test may skip under `golive validate` (golive's pytest plugin
# skips with it): the report lists such tests as n/a.
DEPLOYMENT_NA = "not meaningful against a deployment"


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    paths: tuple[str, ...]
    # The pytest plugins (entry-point names) its tests need beyond the ones every suite loads.
    plugins: tuple[str, ...] = ()


CONTRACT = Suite("contract", "Error envelope and X-Request-ID contract", ("contract",))
GUIDE = Suite("guide", "The migration guide's automated test suite", ("spec",))
API = Suite("api", "Auth, health, content and agent metrics", ("api",))
REALTIME = Suite("realtime", "Pusher channels, pusher-js, the legacy WebSocket", ("realtime",))
RESILIENCE = Suite("resilience", "Circuit breakers, rate limiting, retries, bulkhead", ("resilience",))
SECURITY = Suite(
    "security",
    "Hostile input, fuzzing, secrets, rate-limit bypass",
    ("security",),
    plugins=("schemathesis", "hypothesispytest"),
)
SUITES = {suite.name: suite for suite in (CONTRACT, GUIDE, API, REALTIME, RESILIENCE, SECURITY)}


@dataclass(frozen=True)
class Case:
    """One test as JUnit recorded it. `module` is dotted and relative to the suites folder
    (`resilience.test_idempotency`, perhaps followed by a class), however pytest was run:
    `suites.…` from a checkout, `golive.suites.…` from an installed package."""

    module: str
    name: str
    outcome: str  # passed, failed, error, skipped, xfailed
    message: str = ""  # a failure's first line, or a skip's reason

    @property
    def id(self) -> str:
        return f"{self.module}::{self.name}" if self.name else self.module


def suite_module(classname: str) -> str:
    parts = classname.split(".")
    return ".".join(parts[parts.index("suites") + 1 :]) if "suites" in parts else classname


@dataclass
class SuiteResult:
    suite: Suite
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    seconds: float = 0.0
    exit_code: int = 0
    failures: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    junit: Path | None = None
    log: Path | None = None

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped + self.xfailed

    @property
    def ok(self) -> bool:
        # Exit code 5 is "no tests collected": a suite that tested nothing did not pass.
        return self.exit_code == 0 and self.failed == 0 and self.errors == 0 and self.passed > 0

    def summary(self) -> str:
        parts = [f"{self.passed} passed"]
        for label, count in (("failed", self.failed), ("errors", self.errors), ("skipped", self.skipped)):
            if count:
                parts.append(f"{count} {label}")
        if self.xfailed:
            parts.append(f"{self.xfailed} expected failures")
        return ", ".join(parts)


def read_junit(suite: Suite, path: Path) -> SuiteResult:
    result = SuiteResult(suite)
    tree = ElementTree.parse(path)  # noqa: S314 - our own pytest's output, not outside input
    result.seconds = round(sum(float(suite.get("time") or 0) for suite in tree.iter("testsuite")), 3)
    for case in tree.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        message = _first_line(outcome.get("message")) if outcome is not None else ""
        if outcome is None:
            result.passed += 1
            kind = "passed"
        elif outcome.tag == "failure":
            result.failed += 1
            result.failures.append(f"{name}: {message}")
            kind = "failed"
        elif outcome.tag == "error":
            result.errors += 1
            result.failures.append(f"{name}: error: {message}")
            kind = "error"
        elif outcome.get("type") == "pytest.xfail":
            result.xfailed += 1
            kind = "xfailed"
        else:
            result.skipped += 1
            kind = "skipped"
        # A module that failed to collect is a test case with no classname, named by its module.
        classname, test = case.get("classname") or "", case.get("name") or ""
        module = suite_module(classname or test)
        result.cases.append(Case(module, test if classname else "", kind, message))
    return result


def _first_line(message: str | None) -> str:
    lines = (message or "").strip().splitlines()
    return lines[0][:300] if lines else ""
