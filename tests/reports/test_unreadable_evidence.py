"""Evidence files that are not as their writers write them (cut short, a field renamed, another
drill's result) leave the gate that rests on them MISSING with the file and the reason, and the
verdict INCOMPLETE: never a traceback, never a PASS read from a guess, never "did not run"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golive.reports.build import build_report
from golive.reports.summary import GateSummary, Summary
from tests.reports.test_report import copy_of, edit_json, end_as


def gate(summary: Summary, gate_id: str) -> GateSummary:
    (found,) = [gate for gate in summary.gates if gate.id == gate_id]
    return found


def cut_short(path: Path) -> None:
    path.write_text(path.read_text()[:200])


def test_a_journal_cut_short_leaves_the_breakers_gate_missing_and_says_why(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    cut_short(run_dir / "chaos" / "redis-down-1.json")
    summary = build_report(run_dir).summary
    breakers = gate(summary, "breakers")
    assert breakers.status == "missing"
    assert breakers.detail.startswith(
        "4 of 4 experiments held; unreadable: chaos/redis-down-1.json: not a chaos journal golive "
        "writes: document: Invalid JSON"
    )
    assert summary.verdict == "INCOMPLETE"


def test_a_deviation_fails_the_breakers_gate_whatever_else_could_not_be_read(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    cut_short(run_dir / "chaos" / "redis-down-1.json")

    def deviate(journal: dict[str, Any]) -> None:
        end_as(journal, "deviated")

    edit_json(run_dir / "chaos" / "pusher-down-1.json", deviate)
    summary = build_report(run_dir).summary
    assert gate(summary, "breakers").status == "fail"
    assert summary.verdict == "NO-GO"


def test_a_journal_field_renamed_is_named_by_its_path(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def renamed(journal: dict[str, Any]) -> None:
        for request in journal["requests"]:
            request["latency"] = request.pop("latency_ms")

    edit_json(run_dir / "chaos" / "postgres-down-1.json", renamed)
    summary = build_report(run_dir).summary
    problem = (
        "chaos/postgres-down-1.json: not a chaos journal golive writes: requests.0.latency_ms: Field required"
    )
    assert problem in summary.problems
    assert problem in gate(summary, "breakers").detail


def test_a_drill_file_holding_another_drills_result_is_not_taken_for_it(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    (run_dir / "drill-backup.json").write_text((run_dir / "drill-flags.json").read_text())
    summary = build_report(run_dir).summary
    backup = gate(summary, "backup")
    assert (backup.status, backup.detail) == ("missing", "drill-backup.json: holds the flags drill's result")
    assert gate(summary, "flags").status == "pass"  # its own file is there
    assert summary.verdict == "INCOMPLETE"


@pytest.mark.parametrize("deployment", [False, True])
def test_a_drill_result_missing_a_field_is_missing_with_the_field(tmp_path: Path, deployment: bool) -> None:
    """Against a deployment too: a drill file that is there is judged, not waved through as n/a."""
    run_dir = copy_of("go", tmp_path)
    edit_json(run_dir / "drill-migration.json", lambda drill: drill["steps"][2].pop("locks"))
    if deployment:
        stack = json.loads((run_dir / "stack.json").read_text())
        (run_dir / "stack.json").write_text(json.dumps({"provider": "external", "sut": stack["sut"]}))
    migration = gate(build_report(run_dir).summary, "migration")
    assert migration.status == "missing"
    assert migration.detail == (
        "drill-migration.json: not a drill result golive writes: steps.2.locks: Field required"
    )
    assert migration.evidence == ["drill-migration.json"]


def test_an_unreadable_load_json_leaves_its_gates_missing_with_the_reason(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    cut_short(run_dir / "load" / "load.json")
    summary = build_report(run_dir).summary
    reason = "load/load.json: not the load evidence golive writes: document: Invalid JSON"
    for gate_id in ("load", "rate-limiting"):
        judged = gate(summary, gate_id)
        assert judged.status == "missing"
        assert reason in judged.detail
    assert summary.verdict == "INCOMPLETE"


def test_an_unreadable_baseline_leaves_the_load_gate_missing_not_uncompared(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    (run_dir / "load" / "baseline.json").write_text("{}")
    load = gate(build_report(run_dir).summary, "load")
    assert load.status == "missing"
    assert load.detail == "load/baseline.json: not the load evidence golive writes: run_id: Field required"
    assert "load/baseline.json" in load.evidence


def test_health_checks_with_a_field_renamed_leave_the_health_gate_missing(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def renamed(health: dict[str, Any]) -> None:
        for check in health["checks"]:
            check["status"] = check.pop("status_code")

    edit_json(run_dir / "health.json", renamed)
    health = gate(build_report(run_dir).summary, "health")
    assert (health.status, health.evidence) == ("missing", ["health.json"])
    assert (
        health.detail
        == "health.json: not the health checks golive writes: checks.0.status_code: Field required"
    )


def test_a_stack_file_of_another_shape_is_a_problem_and_shows_no_stack(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    edit_json(run_dir / "stack.json", lambda stack: stack.update(provider_name=stack.pop("provider")))
    summary = build_report(run_dir).summary
    assert "stack.json: provider_name: Extra inputs are not permitted" in summary.problems
    assert summary.target is None
    assert summary.verdict == "INCOMPLETE"
