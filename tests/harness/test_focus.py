"""`golive validate --gate`: a validation focused on some gates runs exactly what those gates judge
(the test modules the gate map gives them, the stages each gate reads) and reports the others as
not part of the run, so it is never GO. `golive selftest --focused` rests on that equivalence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive.reports.build import build_report
from golive.reports.gate_map import GATE_OF_MODULE
from golive.reports.gates import GATE_IDS, GATES, drill_stage
from golive.stages.plan import DRILLS, Plan
from tests.reports.test_gates import gate, set_outcome
from tests.reports.test_report import copy_of, edit_json


def _modules(plan: Plan) -> set[str]:
    return {path.removesuffix(".py").replace("/", ".") for suite in plan.suites for path in suite.paths}


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("gate_id", GATE_IDS)
def test_a_focused_plan_runs_every_test_and_stage_its_gate_judges_and_nothing_else(
    gate_id: str, quick: bool
) -> None:
    whole = Plan.for_mode(quick)
    plan = whole.focused([gate_id])
    (judged,) = [gate for gate in GATES if gate.id == gate_id]
    assert _modules(plan) == {module for module, owner in GATE_OF_MODULE.items() if owner == gate_id}
    assert {drill_stage(drill) for drill in plan.drills} == {
        s for s in judged.stages if s.startswith("drill ")
    }
    assert (plan.health, plan.chaos, plan.load) == (
        "health" in judged.stages,
        "chaos" in judged.stages,
        "load" in judged.stages,
    )
    # Run as the whole validation runs them.
    assert (plan.mode, plan.drill_sizes, plan.chaos_tag, plan.load_profile) == (
        whole.mode, whole.drill_sizes, whole.chaos_tag, whole.load_profile,
    )  # fmt: skip
    assert plan.gates == (gate_id,)
    assert plan.lane_work or plan.health or plan.load, f"{gate_id}: a focused run with nothing to run"


def test_the_focused_plans_together_are_the_whole_validation() -> None:
    whole = Plan.for_mode(True)
    every = whole.focused(GATE_IDS)
    assert _modules(every) == set(GATE_OF_MODULE)
    assert set(every.drills) == set(DRILLS)
    assert (every.health, every.chaos, every.load) == (True, True, True)
    assert [suite.name for suite in every.suites] == [suite.name for suite in whole.suites]


def _focus(run_dir: Path, gates: list[str]) -> None:
    edit_json(run_dir / "run.json", lambda run: run["commands"]["validate"].update(gates=gates))


def test_the_gates_left_out_are_missing_and_said_to_be_so_never_go(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    _focus(run_dir, ["idempotency", "health"])
    summary = build_report(run_dir).summary
    assert summary.verdict == "INCOMPLETE"
    assert gate(summary, "idempotency").status == "pass"
    assert gate(summary, "health").status == "pass"
    left_out = [g for g in summary.gates if g.id not in ("idempotency", "health")]
    assert {(g.status, g.detail) for g in left_out} == {
        ("missing", "not part of this run (--gate idempotency, health)")
    }


def test_a_focused_gate_that_fails_is_no_go(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    _focus(run_dir, ["idempotency"])
    failed = set_outcome(run_dir, "resilience.test_idempotency", "failure", "same key, other body: 201")
    summary = build_report(run_dir).summary
    assert summary.verdict == "NO-GO"
    assert failed in gate(summary, "idempotency").detail
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "NO-GO"
