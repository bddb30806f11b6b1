"""The gate map and the suites `golive validate` runs stay equal: every test module they collect
feeds exactly one gate, and every entry of the table is a module they collect and a gate the
report has. Collected as validate runs them: pytest in a subprocess, with the suites' own
configuration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from golive.core.junit import suite_module
from golive.drills.runner import DRILLS
from golive.reports.gate_map import GATE_OF_MODULE, gate_of, not_applicable
from golive.reports.gates import GATES, DrillGate
from golive.stages.plan import Plan
from golive.stages.suites import CONFIG_FILE, SUITES_DIR


@pytest.fixture(scope="module")
def collected_modules() -> set[str]:
    suites = Plan.for_mode(quick=False).suites
    paths = [str(SUITES_DIR / path) for suite in suites for path in suite.paths]
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths]
    argv += [f"--config-file={SUITES_DIR / CONFIG_FILE}", "--rootdir", str(SUITES_DIR.parent)]
    run = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    node_ids = [line for line in run.stdout.splitlines() if "::" in line]
    assert node_ids, run.stdout
    return {
        suite_module(node_id.split("::")[0].removesuffix(".py").replace("/", ".")) for node_id in node_ids
    }


def test_every_collected_module_feeds_a_gate(collected_modules: set[str]) -> None:
    unjudged = sorted(module for module in collected_modules if gate_of(module) is None)
    assert unjudged == [], "test modules no gate judges: add them to reports/gate_map.py"


def test_every_entry_of_the_gate_map_is_a_collected_module(collected_modules: set[str]) -> None:
    assert sorted(set(GATE_OF_MODULE) - collected_modules) == [], "entries that match no collected module"


def test_every_mapped_gate_exists() -> None:
    assert set(GATE_OF_MODULE.values()) <= {gate.id for gate in GATES}


def test_every_drill_is_run_by_validate_and_judged_by_a_gate() -> None:
    judged = {gate.drill for gate in GATES if isinstance(gate, DrillGate)}
    assert judged == set(DRILLS)
    for quick in (True, False):
        assert set(Plan.for_mode(quick).drills) == set(DRILLS)


@pytest.mark.parametrize(
    ("module", "gate"),
    [
        ("api.test_auth", "api"),
        ("api.test_auth.TestLogin", "api"),  # a test class's JUnit classname
        ("resilience.test_idempotency", "idempotency"),
        ("resilience.test_resilience_api", "breakers"),
        ("api.test_auth_extra", None),  # a prefix of a name is not its module
        ("", None),
    ],
)
def test_a_module_and_its_classes_have_the_modules_gate(module: str, gate: str | None) -> None:
    assert gate_of(module) == gate


def test_only_the_declared_reason_is_not_applicable() -> None:
    assert not_applicable("not meaningful against a deployment (test not marked external_ok)")
    assert not not_applicable("the stack has no fault proxy")
    assert not not_applicable("")
