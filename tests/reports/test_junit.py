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


def test_every_gate_is_timed_by_its_evidence(tmp_path: Path) -> None:
    run_dir, root = built(tmp_path)
    times = case_times(root)
    assert list(times) == [gate.id for gate in GATES]
    health = json.loads((run_dir / "health.json").read_text())
    assert times["health"] == pytest.approx(sum(check["ms"] for check in health["checks"]) / 1000, abs=1e-3)
    api = ElementTree.parse(run_dir / "junit-api.xml").find("testsuite")  # noqa: S314 - ours
    assert api is not None
    assert times["api"] == pytest.approx(float(api.get("time", "nan")), abs=1e-3)
    assert times["migration"] == json.loads((run_dir / "drill-migration.json").read_text())["seconds"]
    chaos = [json.loads(path.read_text())["duration_seconds"] for path in (run_dir / "chaos").glob("*.json")]
    assert times["breakers"] == pytest.approx(sum(chaos), abs=1e-3)
    assert times["load"] == json.loads((run_dir / "load" / "load.json").read_text())["duration_seconds"]
    assert times["rate-limiting"] == 0  # quick mode: no resilience suite, the load is the load gate's
    assert all(time > 0 for gate, time in times.items() if gate != "rate-limiting")


def test_the_suites_carry_time_and_the_runs_start(tmp_path: Path) -> None:
    _, root = built(tmp_path)
    suite = root.find("testsuite")
    assert suite is not None
    total = sum(case_times(root).values())
    for element in (root, suite):
        assert float(element.get("time", "nan")) == pytest.approx(total, abs=1e-2)
        # run.json: validate started at 2026-11-28T11:46:49Z; ISO 8601 with its offset, as pytest writes.
        assert element.get("timestamp") == "2026-11-28T11:46:49+00:00"
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
