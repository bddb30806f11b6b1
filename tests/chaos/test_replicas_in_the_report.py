"""A deviation of a two-replica experiment, read in the report: the breakers gate and the chaos
table say which replica did what, and journals written before replicas existed still read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from golive.reports.build import build_report
from tests.reports.test_report import copy_of, edit_json, end_as

REFUSED_BY_ONE_REPLICA_ONLY = {
    "name": "step 3 on replica 1: 0 requests reached the AI service",
    "ok": False,
    "detail": "2 of 10 reached it (replica 1: 2)",
}


def test_the_breakers_gate_names_the_replica_that_deviated(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def deviate_on_replica_1(journal: dict[str, Any]) -> None:
        end_as(journal, "deviated")
        journal["replicas"] = 2
        journal["checks"].append(REFUSED_BY_ONE_REPLICA_ONLY)

    edit_json(run_dir / "chaos" / "ai-latency-trips-breaker-1.json", deviate_on_replica_1)
    report = build_report(run_dir)
    (breakers,) = [gate for gate in report.summary.gates if gate.id == "breakers"]
    assert breakers.status == "fail"
    assert (
        "deviated: ai-latency-trips-breaker (deviated): step 3 on replica 1: 0 requests reached the "
        "AI service: 2 of 10 reached it (replica 1: 2)"
    ) in breakers.detail
    page = (run_dir / "report.html").read_text()
    assert "ai-latency-trips-breaker (2 replicas)" in page
    assert "redis-down (" not in page  # the recorded journals have no `replicas`: one each


def test_an_experiment_stopped_by_an_error_says_which(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def broken(journal: dict[str, Any]) -> None:
        end_as(journal, "error")
        journal["events"].append(
            {"at": 1.0, "kind": "error", "detail": {"error": "ValueError: the target has 1 replica"}}
        )

    edit_json(run_dir / "chaos" / "pusher-down-1.json", broken)
    (breakers,) = [gate for gate in build_report(run_dir).summary.gates if gate.id == "breakers"]
    assert "pusher-down (error): ValueError: the target has 1 replica" in breakers.detail
