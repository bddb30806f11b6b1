"""The gates judge what the evidence says, built from the recorded GO run with one edit each:
every test module moves its gate (a failure to FAIL, an unexpected skip to MISSING, a declared
n/a skip to nothing but a listing), /health's body is read for each dependency, the load run's
burst journey is found by its fields, and the flags and backup drills have gates of their own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from golive.core.junit import suite_module
from golive.reports.build import build_report
from golive.reports.gate_map import GATE_OF_MODULE
from golive.reports.summary import GateSummary, Summary
from tests.reports.test_report import copy_of, edit_json, gate_statuses


def gate(summary: Summary, gate_id: str) -> GateSummary:
    (found,) = [gate for gate in summary.gates if gate.id == gate_id]
    return found


def set_outcome(run_dir: Path, module: str, tag: str | None, message: str = "") -> str:
    """Gives the first passing test of `module` the outcome `tag` (failure, error, skipped;
    None: passed); returns its id as the report names it."""
    for path in sorted(run_dir.glob("junit-*.xml")):
        tree = ElementTree.parse(path)  # noqa: S314 - the recorded run's own file
        for case in tree.iter("testcase"):
            if suite_module(case.get("classname", "")) == module and not list(case):
                if tag is not None:
                    outcome = ElementTree.SubElement(case, tag, message=message)
                    outcome.set("type", "pytest.skip" if tag == "skipped" else "AssertionError")
                tree.write(path, encoding="utf-8", xml_declaration=True)
                return f"{module}::{case.get('name')}"
    raise AssertionError(f"the recorded run has no passing test of {module}")


def others_pass(summary: Summary, but: str) -> None:
    assert {gate_id for gate_id, status in gate_statuses(summary).items() if status != "pass"} == {but}


@pytest.mark.parametrize("module", sorted(GATE_OF_MODULE))
def test_a_failing_test_fails_its_gate_and_the_report_names_it(tmp_path: Path, module: str) -> None:
    run_dir = copy_of("go", tmp_path)
    test = set_outcome(run_dir, module, "failure", "assert 503 == 200")
    summary = build_report(run_dir).summary
    judged = gate(summary, GATE_OF_MODULE[module])
    assert judged.status == "fail"
    assert f"{test} failed: assert 503 == 200" in judged.detail
    others_pass(summary, judged.id)
    assert summary.verdict == "NO-GO"


@pytest.mark.parametrize("module", sorted(GATE_OF_MODULE))
def test_an_unexpected_skip_makes_its_gate_missing(tmp_path: Path, module: str) -> None:
    run_dir = copy_of("go", tmp_path)
    test = set_outcome(run_dir, module, "skipped", "the stack has no fault proxy")
    summary = build_report(run_dir).summary
    judged = gate(summary, GATE_OF_MODULE[module])
    assert judged.status == "missing"
    assert f"{test} skipped: the stack has no fault proxy" in judged.detail
    others_pass(summary, judged.id)
    assert summary.verdict == "INCOMPLETE"


def test_an_erroring_test_fails_its_gate(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    test = set_outcome(run_dir, "resilience.test_interrupted_jobs", "error", "fixture 'db' failed")
    judged = gate(build_report(run_dir).summary, "idempotency")
    assert judged.status == "fail"
    assert f"{test} errored: fixture 'db' failed" in judged.detail


def test_a_declared_not_applicable_skip_is_listed_with_its_reason(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    reason = "not meaningful against a deployment (test not marked external_ok)"
    test = set_outcome(run_dir, "resilience.test_circuit_breakers", "skipped", reason)
    summary = build_report(run_dir).summary
    judged = gate(summary, "breakers")
    assert judged.status == "pass"
    assert f"n/a ({reason}): {test}" in judged.detail
    assert summary.verdict == "GO"


def test_the_module_is_found_however_pytest_was_run(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    path = run_dir / "junit-resilience.xml"
    # An installed golive runs its suites as golive.suites.…
    path.write_text(path.read_text().replace('classname="suites.', 'classname="golive.suites.'))
    assert build_report(run_dir).summary.verdict == "GO"
    test = set_outcome(run_dir, "resilience.test_idempotency", "failure", "two jobs")
    assert test.startswith("resilience.test_idempotency::")
    assert gate_statuses(build_report(run_dir).summary)["idempotency"] == "fail"


def test_a_test_no_gate_judges_keeps_the_verdict_from_go(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    path = run_dir / "junit-resilience.xml"
    tree = ElementTree.parse(path)  # noqa: S314 - the recorded run's own file
    suite = tree.find("testsuite")
    assert suite is not None
    ElementTree.SubElement(suite, "testcase", classname="suites.resilience.test_new_thing", name="test_x")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    summary = build_report(run_dir).summary
    assert summary.verdict == "INCOMPLETE"
    problems = " ".join(summary.problems)
    assert "junit-resilience.xml: resilience.test_new_thing::test_x feeds no gate" in problems


def test_a_suite_that_did_not_run_leaves_its_gates_missing(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    (run_dir / "junit-resilience.xml").unlink()
    summary = build_report(run_dir).summary
    statuses = gate_statuses(summary)
    assert statuses["idempotency"] == statuses["breakers"] == "missing"
    assert "Idempotency and retries: none of its tests ran" in summary.reasons
    assert summary.verdict == "INCOMPLETE"


def lie_about(run_dir: Path, change: Any) -> None:
    def edit(health: dict[str, Any]) -> None:
        (check,) = [check for check in health["checks"] if check["path"] == change[0]]
        change[1](check["body"]["data"])

    edit_json(run_dir / "health.json", edit)


@pytest.mark.parametrize(
    ("path", "change", "named"),
    [
        (
            "/health",
            lambda data: data["dependencies"]["database"].update(status="down"),
            "database is reported 'down'",
        ),
        (
            "/health",
            lambda data: data["dependencies"]["upstream"].update(status="degraded"),
            "upstream is reported",
        ),
        ("/health", lambda data: data["dependencies"].pop("redis"), "redis is not reported"),
        ("/pusher/status", lambda data: data.update(status="degraded"), "pusher is reported 'degraded'"),
    ],
)
def test_a_health_answer_that_reports_a_dependency_down_fails_the_health_gate(
    tmp_path: Path, path: str, change: Any, named: str
) -> None:
    # Still HTTP 200 with the success envelope: only what the body says is wrong.
    run_dir = copy_of("go", tmp_path)
    lie_about(run_dir, (path, change))
    summary = build_report(run_dir).summary
    judged = gate(summary, "health")
    assert judged.status == "fail"
    assert named in judged.detail
    others_pass(summary, "health")


def test_health_without_the_bodies_recorded_proves_no_dependency_up(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def forget_bodies(health: dict[str, Any]) -> None:
        for check in health["checks"]:
            del check["body"]

    edit_json(run_dir / "health.json", forget_bodies)
    judged = gate(build_report(run_dir).summary, "health")
    assert judged.status == "fail"
    assert "database is not reported" in judged.detail


def burst_endpoints(load: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: stats for name, stats in load["endpoints"].items() if stats["expects_throttle"]}


def test_the_go_run_was_throttled_by_its_burst_journey_only(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    load = json.loads((run_dir / "load" / "load.json").read_text())
    burst = burst_endpoints(load)
    assert all(name.startswith("[burst] ") for name in burst)
    throttled = sum(stats["requests"] for stats in burst.values() if stats["throttled"])
    assert throttled > 0
    judged = gate(build_report(run_dir).summary, "rate-limiting")
    assert judged.status == "pass"
    assert f"{throttled} burst requests throttled" in judged.detail


def test_throttled_log_ins_are_no_evidence_of_the_limiter_under_load(tmp_path: Path) -> None:
    """The burst journey's 429s gone; a retried log-in's 429s (named "(throttled)" too) remain."""
    run_dir = copy_of("go", tmp_path)

    def only_log_ins_throttled(load: dict[str, Any]) -> None:
        for name, stats in burst_endpoints(load).items():
            if stats["throttled"]:
                del load["endpoints"][name]
        log_in = load["endpoints"]["[auth] POST /api/v1/auth/token"]
        load["endpoints"]["[auth] POST /api/v1/auth/token (throttled)"] = {**log_in, "throttled": True}

    edit_json(run_dir / "load" / "load.json", only_log_ins_throttled)
    judged = gate(build_report(run_dir).summary, "rate-limiting")
    assert judged.status == "fail"
    assert "no burst request was throttled" in judged.detail


def test_a_burst_answer_that_broke_the_contract_fails_rate_limiting(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def break_one(load: dict[str, Any]) -> None:
        (name,) = [name for name, stats in burst_endpoints(load).items() if not stats["throttled"]]
        load["endpoints"][name]["failures"] = 3

    edit_json(run_dir / "load" / "load.json", break_one)
    judged = gate(build_report(run_dir).summary, "rate-limiting")
    assert judged.status == "fail"
    assert "3 burst requests broke the 429 contract" in judged.detail


def test_a_load_json_without_the_burst_fields_is_refused_by_its_type_not_guessed_at(tmp_path: Path) -> None:
    """load.json is read back by the type that wrote it: a file of another shape is a problem of
    the report, and the gates that rest on it have no evidence."""
    run_dir = copy_of("go", tmp_path)

    def older(load: dict[str, Any]) -> None:
        for stats in load["endpoints"].values():
            del stats["expects_throttle"], stats["throttled"]

    edit_json(run_dir / "load" / "load.json", older)
    summary = build_report(run_dir).summary
    assert "load/load.json: not the load evidence golive writes: endpoints." in " ".join(summary.problems)
    assert gate(summary, "rate-limiting").status == gate(summary, "load").status == "missing"
    assert summary.verdict == "INCOMPLETE"


ME = "[burst] GET /api/v1/auth/me"  # median 5 ms over 38 requests in the recorded run


def with_baseline(run_dir: Path, change: Callable[[dict[str, Any]], None] = lambda load: None) -> None:
    """load/baseline.json, as `--baseline` leaves it: the recorded load run as an earlier run
    `before`, edited by `change`."""
    baseline = json.loads((run_dir / "load" / "load.json").read_text())
    baseline["run_id"] = "before"
    change(baseline)
    (run_dir / "load" / "baseline.json").write_text(json.dumps(baseline))


def test_without_a_baseline_the_load_gate_says_the_regression_check_did_not_apply(tmp_path: Path) -> None:
    judged = gate(build_report(copy_of("go", tmp_path)).summary, "load")
    assert judged.status == "pass"
    assert "; regression: n/a (no baseline given (--baseline RUN_DIR" in judged.detail


def test_against_an_equal_baseline_the_load_gate_says_nothing_regressed(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    with_baseline(run_dir)
    judged = gate(build_report(run_dir).summary, "load")
    assert judged.status == "pass"
    assert "no regression against run before: 3 endpoints within 2x the baseline's + 10 ms" in judged.detail
    assert "load/baseline.json" in judged.evidence


def test_an_endpoint_slower_than_the_baseline_allows_fails_the_load_gate_by_name(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    with_baseline(run_dir)
    edit_json(run_dir / "load" / "load.json", lambda load: load["endpoints"][ME].update(p50_ms=57.0))
    summary = build_report(run_dir).summary
    judged = gate(summary, "load")
    assert judged.status == "fail"
    assert judged.detail == (
        f"regressed against run before: {ME}: p50 57 ms, 11.4x the baseline's 5 ms (limit 20 ms)"
    )
    others_pass(summary, "load")
    assert summary.verdict == "NO-GO"
    html = (run_dir / "report.html").read_text()
    row = html[html.index(f'<tr data-endpoint="{ME}" data-quantile="50">') :]
    assert '<span class="status fail">11.4x</span>' in row[: row.index("</tr>")]


def test_a_baseline_from_another_machine_leaves_the_regression_check_n_a(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    with_baseline(run_dir, lambda load: load["machine"].update(cpus=8))
    edit_json(run_dir / "load" / "load.json", lambda load: load["endpoints"][ME].update(p50_ms=57.0))
    judged = gate(build_report(run_dir).summary, "load")
    assert judged.status == "pass"
    assert (
        "regression: n/a (the baseline run before ran on another machine: cpus 2 (baseline: 8))"
        in judged.detail
    )


def test_a_baseline_of_another_shape_is_a_problem_of_the_report(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    with_baseline(run_dir, lambda load: load.pop("machine"))
    summary = build_report(run_dir).summary
    assert (
        "load/baseline.json: not the load evidence golive writes: machine: Field required" in summary.problems
    )
    assert summary.verdict == "INCOMPLETE"


@pytest.mark.parametrize("drill", ["flags", "backup"])
def test_the_flags_and_backup_drills_have_gates_of_their_own(tmp_path: Path, drill: str) -> None:
    run_dir = copy_of("go", tmp_path)
    assert gate(build_report(run_dir).summary, drill).status == "pass"

    def fail(document: dict[str, Any]) -> None:
        # As the drill writes a failed check: its step and the drill not ok either.
        document["ok"] = document["steps"][0]["ok"] = False
        document["steps"][0]["checks"][0].update(ok=False, detail="a flag stayed on")

    edit_json(run_dir / f"drill-{drill}.json", fail)
    summary = build_report(run_dir).summary
    assert gate(summary, drill).status == "fail"
    assert "a flag stayed on" in gate(summary, drill).detail
    others_pass(summary, drill)
    (run_dir / f"drill-{drill}.json").unlink()
    assert gate(build_report(run_dir).summary, drill).status == "missing"


def test_a_module_that_did_not_collect_fails_its_gate(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    path = run_dir / "junit-resilience.xml"
    tree = ElementTree.parse(path)  # noqa: S314 - the recorded run's own file
    suite = tree.find("testsuite")
    assert suite is not None
    # What pytest writes for a module it could not import.
    case = ElementTree.SubElement(suite, "testcase", classname="", name="suites.resilience.test_idempotency")
    ElementTree.SubElement(case, "error", message="collection failure")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    judged = gate(build_report(run_dir).summary, "idempotency")
    assert judged.status == "fail"
    assert "resilience.test_idempotency errored: collection failure" in judged.detail
