"""The report's junit.xml as CI systems read it: counts, and times and timestamps where JUnit
readers (GitLab, Jenkins, GitHub's test reporters) look for them. Built from the recorded real run
of tests/reports/runs/go/."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from golive.reports.build import build_report
from golive.reports.gates import GATES

RUN = Path(__file__).resolve().parent / "runs" / "go"


def built(tmp_path: Path) -> tuple[Path, ElementTree.Element]:
    run_dir = Path(shutil.copytree(RUN, tmp_path / "go"))
    build_report(run_dir)
    return run_dir, ElementTree.parse(run_dir / "junit.xml").getroot()  # noqa: S314 - ours


def case_times(root: ElementTree.Element) -> dict[str, float]:
    return {str(case.get("name")): float(case.get("time", "nan")) for case in root.iter("testcase")}


def suite_time(run_dir: Path, name: str) -> float:
    suite = ElementTree.parse(run_dir / f"junit-{name}.xml").find("testsuite")  # noqa: S314 - ours
    assert suite is not None
    return float(suite.get("time", "nan"))


def test_every_gate_is_timed_by_its_evidence(tmp_path: Path) -> None:
    run_dir, root = built(tmp_path)
    times = case_times(root)
    assert list(times) == [gate.id for gate in GATES]
    health = json.loads((run_dir / "health.json").read_text())
    checks_seconds = sum(check["ms"] for check in health["checks"]) / 1000
    assert times["health"] == pytest.approx(checks_seconds, abs=1e-3)
    # A suite's time is shared by the gates its tests feed: each of these suites feeds one gate.
    for suite, gate_id in (
        ("contract", "envelope"),
        ("api", "api"),
        ("guide", "guide"),
        ("realtime", "realtime"),
    ):
        assert times[gate_id] == pytest.approx(suite_time(run_dir, suite), abs=1e-3)
    assert times["migration"] == json.loads((run_dir / "drill-migration.json").read_text())["seconds"]
    chaos = [json.loads(path.read_text())["duration_seconds"] for path in (run_dir / "chaos").glob("*.json")]
    assert times["breakers"] > sum(chaos)  # and its share of the resilience suite
    assert times["load"] == json.loads((run_dir / "load" / "load.json").read_text())["duration_seconds"]
    assert all(time > 0 for time in times.values())


def test_the_suites_carry_time_and_the_runs_start(tmp_path: Path) -> None:
    _, root = built(tmp_path)
    suite = root.find("testsuite")
    assert suite is not None
    total = sum(case_times(root).values())
    for element in (root, suite):
        assert float(element.get("time", "nan")) == pytest.approx(total, abs=1e-2)
        # run.json: validate started at 2026-12-01T00:59:34Z; ISO 8601 with its offset, as pytest writes.
        assert element.get("timestamp") == "2026-12-01T00:59:34+00:00"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (str(len(GATES)), "0", "0")


def test_without_a_readable_start_the_timestamp_is_the_reports(tmp_path: Path) -> None:
    run_dir = Path(shutil.copytree(RUN, tmp_path / "go"))
    meta = json.loads((run_dir / "run.json").read_text())
    meta["commands"]["validate"]["started_at"] = "yesterday"
    (run_dir / "run.json").write_text(json.dumps(meta))
    report = build_report(run_dir)
    root = ElementTree.parse(run_dir / "junit.xml").getroot()  # noqa: S314 - ours
    timestamp = datetime.fromisoformat(str(root.get("timestamp")))
    assert timestamp == datetime.fromisoformat(report.summary.generated_at)
