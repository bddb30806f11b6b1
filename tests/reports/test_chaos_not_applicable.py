"""Experiments a deployment could not run, in the report: listed with their reason in the breaker
gate, in summary.json and on the page, never counted as held; the gate rests on those that ran."""

from __future__ import annotations

import shutil
from pathlib import Path

from golive.chaos.journal import Journal
from golive.reports.build import build_report
from golive.reports.summary import GateSummary, Summary
from tests.reports.test_report import copy_of

REASON = "needs DATABASE_TIMEOUT_SECONDS=10 at start-up"


def breakers(summary: Summary) -> GateSummary:
    (gate,) = [gate for gate in summary.gates if gate.id == "breakers"]
    return gate


def add_not_applicable(run_dir: Path, name: str = "postgres-slow-link") -> None:
    journal = Journal(experiment=name, title="A slow link to Postgres", seed=None)
    journal.outcome, journal.not_applicable = "n/a", REASON
    journal.write(run_dir / "chaos" / f"{name}-1.json")


def test_an_experiment_that_could_not_run_is_listed_with_its_reason_not_counted(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    ran = len(list((run_dir / "chaos").glob("*.json")))
    add_not_applicable(run_dir)
    report = build_report(run_dir)
    gate = breakers(report.summary)
    assert gate.status == "pass", gate.detail
    assert f"{ran} of {ran} experiments held" in gate.detail
    assert f"n/a: postgres-slow-link ({REASON})" in gate.detail
    assert "chaos/postgres-slow-link-1.json" in gate.evidence
    assert {chaos.experiment: chaos.outcome for chaos in report.summary.chaos}["postgres-slow-link"] == "n/a"
    page = (run_dir / "report.html").read_text()
    assert f"not run: {REASON}" in page


def test_when_nothing_could_run_the_chaos_part_is_n_a_with_the_reasons(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    shutil.rmtree(run_dir / "chaos")
    add_not_applicable(run_dir)
    gate = breakers(build_report(run_dir).summary)
    # The resilience tests still judge the gate; the chaos part says why it adds nothing.
    assert gate.status == "pass", gate.detail
    assert f"chaos: no experiment could run against the deployment; n/a: postgres-slow-link ({REASON})" in (
        gate.detail
    )
