"""Runs pytest suites against a described stack, in a subprocess, and reads back their results.

A subprocess keeps each suite's imports, event loops and plugins away from the command that
owns the stack; the JUnit XML it writes is the result, also for CI systems and the report. It is
a child like the stack's servers (fixtures/processes.py): killed with golive, however golive
ends, rather than left testing a stack that died.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from golive import suites
from golive.fixtures.processes import ChildProcess
from golive.signals import shielded


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    paths: tuple[str, ...]


SUITES_DIR = Path(suites.__file__).resolve().parent
CONFIG_FILE = "pytest-suites.ini"
CONTRACT = Suite("contract", "Error envelope and X-Request-ID contract", ("contract",))
GUIDE = Suite("guide", "The migration guide's automated test suite", ("spec",))
API = Suite("api", "Auth, health, content and agent metrics", ("api",))
REALTIME = Suite("realtime", "Pusher channels, pusher-js, the legacy WebSocket", ("realtime",))
RESILIENCE = Suite("resilience", "Circuit breakers, rate limiting, retries, bulkhead", ("resilience",))
SECURITY = Suite("security", "Hostile input, fuzzing, secrets, rate-limit bypass", ("security",))
SUITES = {suite.name: suite for suite in (CONTRACT, GUIDE, API, REALTIME, RESILIENCE, SECURITY)}


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


def run_suite(suite: Suite, stack_file: Path, run_dir: Path) -> SuiteResult:
    junit = run_dir / f"junit-{suite.name}.xml"
    log = run_dir / "logs" / f"pytest-{suite.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", *(str(SUITES_DIR / path) for path in suite.paths)]
    # The suites' own configuration, never the surrounding project's (golive may be installed in a
    # team's environment, whose pytest settings and plugins' options are not the suites'). One token
    # per option: pytest would take a separate "/tmp/run/stack.json" for a path.
    argv += [
        f"--config-file={SUITES_DIR / CONFIG_FILE}",
        f"--golive-stack-file={stack_file}",
        f"--junitxml={junit}",
        "-o",
        f"junit_suite_name={suite.name}",
    ]
    argv += ["-q", "-p", "no:cacheprovider", "--rootdir", str(SUITES_DIR.parent)]
    started = time.perf_counter()
    log.unlink(missing_ok=True)  # the child appends to its log: this run's output only
    child = ChildProcess(f"pytest {suite.name}", argv, log_path=log).start()
    try:
        returncode = child.wait()
    finally:
        with shielded():
            child.stop()
    result = read_junit(suite, junit) if junit.exists() else SuiteResult(suite, errors=1)
    result.seconds = round(time.perf_counter() - started, 2)
    result.exit_code = returncode
    result.junit, result.log = junit, log
    if returncode not in (0, 1) and not result.failures:
        result.failures.append(f"pytest exited with {returncode}; see {log}")
    return result


def read_junit(suite: Suite, path: Path) -> SuiteResult:
    result = SuiteResult(suite)
    tree = ElementTree.parse(path)  # noqa: S314 - our own pytest's output, not outside input
    result.seconds = round(sum(float(suite.get("time") or 0) for suite in tree.iter("testsuite")), 3)
    for case in tree.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            result.passed += 1
        elif outcome.tag == "failure":
            result.failed += 1
            result.failures.append(f"{name}: {_first_line(outcome.get('message'))}")
        elif outcome.tag == "error":
            result.errors += 1
            result.failures.append(f"{name}: error: {_first_line(outcome.get('message'))}")
        elif outcome.get("type") == "pytest.xfail":
            result.xfailed += 1
        else:
            result.skipped += 1
    return result


def _first_line(message: str | None) -> str:
    lines = (message or "").strip().splitlines()
    return lines[0][:300] if lines else ""
