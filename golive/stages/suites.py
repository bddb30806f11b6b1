"""The suites stage: pytest suites against a described stack, in a subprocess, results read back
from their JUnit XML.

A subprocess keeps each suite's imports, event loops and plugins away from the command that
owns the stack; the JUnit XML it writes is the result, also for CI systems and the report. It is
a child like the stack's servers (fixtures/processes.py): killed with golive, however golive
ends, rather than left testing a stack that died.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from golive.core.junit import Suite, SuiteResult, read_junit
from golive.core.signals import shielded
from golive.fixtures.processes import ChildProcess, register, unregister
from golive.fixtures.providers.local.scratch import PYTEST_PREFIX, owned_tempdir
from golive.stages.outcome import Outcome, Report

# The suites are run by path, never imported here: golive/suites is where the package has them.
SUITES_DIR = (Path(__file__).resolve().parents[1] / "suites").resolve()
CONFIG_FILE = "pytest-suites.ini"


# Every suite's plugins. The others of the environment golive is installed in are not loaded: a
# team's plugins could change how the suites run, and all of them cost each suite's pytest about
# 1.5 s of imports (Schemathesis, Hypothesis, Alembic, Locust) that most suites never use.
PLUGINS = ("golive", "asyncio", "timeout")


def plugins(suite: Suite) -> list[str]:
    """The plugins a suite's pytest loads, by entry-point name. One its tests need that is not
    installed is left out: the test module that imports it then fails to collect, naming it."""
    installed = {entry.name for entry in entry_points(group="pytest11")}
    return [plugin for plugin in (*PLUGINS, *suite.plugins) if plugin in installed]


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
    for plugin in plugins(suite):
        argv += ["-p", plugin]
    # The tests' tmp_path in a marked dir removed afterwards (pytest would keep its runs' dirs in
    # the temp directory); one a killed golive left is `golive clean`'s.
    scratch = _Scratch(owned_tempdir(PYTEST_PREFIX, log.parent))
    register(scratch)
    argv.append(f"--basetemp={scratch.path / 'tmp'}")
    started = time.perf_counter()
    log.unlink(missing_ok=True)  # the child appends to its log: this run's output only
    try:
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        child = ChildProcess(f"pytest {suite.name}", argv, log_path=log, env=env).start()
        try:
            returncode = child.wait()
        finally:
            with shielded():
                child.stop()
    finally:
        with shielded():
            scratch.stop()
    result = read_junit(suite, junit) if junit.exists() else SuiteResult(suite, errors=1)
    result.seconds = round(time.perf_counter() - started, 2)
    result.exit_code = returncode
    result.junit, result.log = junit, log
    if returncode not in (0, 1) and not result.failures:
        result.failures.append(f"pytest exited with {returncode}; see {log}")
    return result


@dataclass(frozen=True)
class _Scratch:
    """The suite's tmp_path root, removed when the suite ends, or when golive exits while the
    suite's lane is still waiting on its pytest (Ctrl-C ends a command without joining the lanes:
    the exit stops the pytest, registered after this, then this)."""

    path: Path

    def stop(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        unregister(self)


def run_suites(suites: Iterable[Suite], stack_file: Path, run_dir: Path, report: Report) -> bool:
    ok = True
    for suite in suites:
        result = run_suite(suite, stack_file, run_dir)
        report(Outcome(suite.name, result.summary(), result.seconds, result.ok))
        ok = ok and result.ok
    return ok
