"""The go-live report, built from recorded run directories (tests/reports/runs/: a real
`golive validate --quick` run, and the same run made to fail and cut short; see their README):
the verdict, every gate, the machine-readable outputs, no secret anywhere, and a page a browser
shows without complaint."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from golive.core.chaos_evidence import STATUSES, Outcome
from golive.core.owners import identity
from golive.reports.build import FILES, build_report
from golive.reports.gates import GATES
from golive.reports.summary import SCHEMA_FILE, Summary, schema_text
from tests.harness.golive import run_golive
from tests.reports.browser import open_page

RUNS = Path(__file__).resolve().parent / "runs"
SVG = "{http://www.w3.org/2000/svg}"


def copy_of(name: str, tmp_path: Path) -> Path:
    """The recorded run (copied: building a report writes into the run directory), as it was
    (`go`), or made to fail (`no-go`) or cut short (`incomplete`)."""
    run_dir = Path(shutil.copytree(RUNS / "go", tmp_path / name))
    {"go": lambda path: None, "no-go": no_go, "incomplete": incomplete}[name](run_dir)
    return run_dir


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def end_as(journal: dict[str, Any], outcome: Outcome) -> None:
    """A chaos journal's outcome changed as its writer would write it: with the Chaos Toolkit keys
    derived from it (the report refuses a journal whose keys disagree)."""
    journal.update(outcome=outcome, status=STATUSES[outcome], deviated=outcome == "deviated")


def no_go(run_dir: Path) -> None:
    """The load run's p95 gate set to 1 ms (the run's p95 was 190 ms), and the redis-down
    experiment deviating (its recovery check failed)."""

    def tighten(load: dict[str, Any]) -> None:
        (threshold,) = [t for t in load["thresholds"] if t["threshold"] == "http_req_duration: p(95) < 1000"]
        threshold.update(threshold="http_req_duration: p(95) < 1", ok=False)
        load["ok"] = False

    def deviate(journal: dict[str, Any]) -> None:
        end_as(journal, "deviated")
        journal["checks"][-1].update(ok=False, detail="still failing 5 s after the fault was removed")

    edit_json(run_dir / "load" / "load.json", tighten)
    edit_json(run_dir / "chaos" / "redis-down-1.json", deviate)
    edit_json(run_dir / "run.json", lambda meta: meta["commands"]["validate"].update(exit_code=1))


def incomplete(run_dir: Path) -> None:
    """Ctrl-C during the load stage: no load results, the run marked interrupted."""
    shutil.rmtree(run_dir / "load")
    validate = {"interrupted": True, "exit_code": 130}
    edit_json(run_dir / "run.json", lambda meta: meta["commands"]["validate"].update(validate))


def gate_statuses(summary: Summary) -> dict[str, str]:
    return {gate.id: gate.status for gate in summary.gates}


def test_a_run_where_everything_held_is_go(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    report = build_report(run_dir)
    assert report.summary.verdict == "GO"
    assert report.summary.reasons == []
    assert set(gate_statuses(report.summary).values()) == {"pass"}
    assert [gate.id for gate in report.summary.gates] == [gate.id for gate in GATES]
    for name in FILES:
        assert (run_dir / name).stat().st_size > 0
    assert report.summary.mode == "quick"
    assert report.summary.environment is not None
    assert report.summary.environment["git_commit"]


def test_a_run_with_a_failed_threshold_and_a_deviated_experiment_is_no_go(tmp_path: Path) -> None:
    report = build_report(copy_of("no-go", tmp_path))
    assert report.summary.verdict == "NO-GO"
    statuses = gate_statuses(report.summary)
    assert statuses["load"] == "fail"
    assert statuses["breakers"] == "fail"
    assert {gate for gate, status in statuses.items() if status != "pass"} == {"load", "breakers"}
    reasons = " ".join(report.summary.reasons)
    assert "http_req_duration: p(95) < 1" in reasons
    assert "redis-down (deviated)" in reasons


def test_an_interrupted_run_is_incomplete_and_says_what_is_missing(tmp_path: Path) -> None:
    report = build_report(copy_of("incomplete", tmp_path))
    assert report.summary.verdict == "INCOMPLETE"
    statuses = gate_statuses(report.summary)
    assert statuses["load"] == "missing"
    assert "fail" not in statuses.values()
    assert "the run was interrupted before it was done" in report.summary.reasons
    assert "Load SLOs: no load profile ran" in report.summary.reasons


def test_every_gate_is_in_every_output(tmp_path: Path) -> None:
    run_dir = copy_of("no-go", tmp_path)
    build_report(run_dir)
    ids = [gate.id for gate in GATES]
    html = (run_dir / "report.html").read_text()
    for gate_id in ids:
        assert f'data-gate="{gate_id}"' in html
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [gate["id"] for gate in summary["gates"]] == ids
    cases = ElementTree.parse(run_dir / "junit.xml").getroot().iter("testcase")  # noqa: S314 - ours
    outcomes = {case.get("name"): [child.tag for child in case] for case in cases}
    assert list(outcomes) == ids
    assert "failure" in outcomes["load"]
    assert "failure" not in outcomes["health"]
    markdown = (run_dir / "summary.md").read_text()
    assert markdown.startswith("## golive: **NO-GO**")
    for gate in GATES:
        assert f"| {gate.title} |" in markdown


def test_summary_json_follows_its_committed_schema(tmp_path: Path) -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "summary.json's schema changed: if on purpose, regenerate reports/summary.schema.json "
        '(python -c "from golive.reports.summary import *; SCHEMA_FILE.write_text(schema_text())") and say so'
    )
    for name in ("go", "no-go", "incomplete"):
        run_dir = copy_of(name, tmp_path)
        build_report(run_dir)
        document = json.loads((run_dir / "summary.json").read_text())
        assert Summary.model_validate(document).schema_version == 1
        assert document["verdict"] in ("GO", "NO-GO", "INCOMPLETE")


def test_no_secret_reaches_any_output(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    stack = json.loads((run_dir / "stack.json").read_text())
    secrets = [stack["jwt_secret"], stack["pusher"]["secret"]]
    secrets += [credentials["password"] for credentials in stack["users"].values()]
    secrets.append(stack["postgres"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1])  # the role's
    build_report(run_dir)
    for name in FILES:
        text = (run_dir / name).read_text()
        for secret in secrets:
            assert secret not in text, f"a secret in {name}"
    settings = json.loads((run_dir / "summary.json").read_text())["environment"]["settings"]
    assert settings["JWT_SECRET"] == "***"
    assert ":***@" in settings["DATABASE_URL"]


def test_the_timeline_chart_draws_the_runs_own_seconds(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    build_report(run_dir)
    timeline = json.loads((run_dir / "load" / "timeline.json").read_text())
    html = (run_dir / "report.html").read_text()
    svg = html[html.index('<svg class="chart timeline"') : html.index("</svg>") + len("</svg>")]
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own report
    drawn = {line.get("data-series"): line.get("data-values") or "" for line in root.iter(f"{SVG}polyline")}
    recorded = [row["requests_per_second"] for row in timeline["seconds"]]
    assert [float(point.split(":")[1]) for point in drawn["requests_per_second"].split()] == recorded
    assert len(drawn["p95_ms"].split()) == sum(row["p95_ms"] is not None for row in timeline["seconds"])


def test_the_report_renders_in_a_browser_without_console_messages(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    run_dir = copy_of("no-go", tmp_path)
    build_report(run_dir)
    screenshot = tmp_path / "report.png"
    messages = open_page(run_dir / "report.html", screenshot)
    record_property("screenshot", str(screenshot))
    assert messages == []


def test_the_browser_check_sees_what_a_broken_page_says(tmp_path: Path) -> None:
    """The check above can fail: a page that fetches and scripts is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '</head><body><img src="https://cdn.example/logo.png"><script>missing()</script></body></html>'
    )
    messages = open_page(page, tmp_path / "broken.png", 400, 300)
    assert any("cdn.example" in message for message in messages)


def test_report_rebuilds_from_the_command_line(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    done = run_golive("report", str(run_dir), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "GO" in done.stderr
    assert str(run_dir / "report.html") in done.stderr.replace("\n", "")
    failing = run_golive("report", str(copy_of("no-go", tmp_path)), timeout=120)
    assert failing.returncode == 1
    assert "NO-GO" in failing.stderr


@pytest.mark.parametrize("kind", ["missing", "not a run"])
def test_report_of_something_that_is_not_a_run_directory_is_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nothing" if kind == "missing" else tmp_path
    done = run_golive("report", str(target), timeout=60)
    assert done.returncode == 2
    expected = "no such directory" if kind == "missing" else "not a golive run directory (no run.json)"
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreadable_part_is_named_and_keeps_the_verdict_from_go(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    (run_dir / "drill-rollback.json").write_text('{"drill": "rollback", "steps": [')
    (run_dir / "junit-api.xml").write_text("<testsuites><testsuite")
    report = build_report(run_dir)
    assert report.summary.verdict == "INCOMPLETE"
    problems = " ".join(report.summary.problems)
    truncated = "drill-rollback.json: not a drill result golive writes: document: Invalid JSON"
    assert truncated in problems
    assert "junit-api.xml: unreadable JUnit XML" in problems
    (rollback,) = [gate for gate in report.summary.gates if gate.id == "rollback"]
    assert (rollback.status, rollback.evidence) == ("missing", ["drill-rollback.json"])
    assert rollback.detail.startswith(truncated)  # why it is missing, not that the drill did not run


@pytest.mark.parametrize(
    ("part", "edit", "said"),
    [
        ("run.json", lambda data: data["commands"]["validate"].update(exit_code="one"), "exit_code"),
        ("environment.json", lambda data: data.update(cpu_count=2), "cpu_count"),
    ],
)
def test_run_json_and_environment_json_are_read_by_the_types_that_wrote_them(
    tmp_path: Path, part: str, edit: Callable[[Any], None], said: str
) -> None:
    run_dir = copy_of("go", tmp_path)
    edit_json(run_dir / part, edit)
    report = build_report(run_dir)
    assert report.summary.verdict == "INCOMPLETE"
    problems = " ".join(report.summary.problems)
    assert f"{part}: not the" in problems
    assert said in problems


def test_a_drill_step_that_could_not_run_is_listed_n_a_with_its_reason(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)

    def without_a_previous_version(drill: dict[str, Any]) -> None:
        step = drill["steps"][-2]
        step.update(checks=[], not_applicable="the backend has no legacy:app")

    edit_json(run_dir / "drill-rollback.json", without_a_previous_version)
    report = build_report(run_dir)
    (rollback,) = [gate for gate in report.summary.gates if gate.id == "rollback"]
    assert rollback.status == "pass"
    name = json.loads((run_dir / "drill-rollback.json").read_text())["steps"][-2]["name"]
    assert f"n/a: {name} (the backend has no legacy:app)" in rollback.detail


def test_against_a_deployment_the_stack_only_gates_are_not_applicable(tmp_path: Path) -> None:
    run_dir = copy_of("go", tmp_path)
    stack = json.loads((run_dir / "stack.json").read_text())
    (run_dir / "stack.json").write_text(json.dumps({"provider": "external", "sut": stack["sut"]}))
    for path in [*run_dir.glob("drill-*.json"), *run_dir.glob("chaos/*.json")]:
        path.unlink()
    # What the plugin does to a test not marked external_ok: here, every resilience test.
    junit = ElementTree.parse(run_dir / "junit-resilience.xml")  # noqa: S314 - the recorded run's
    reason = "not meaningful against a deployment (test not marked external_ok)"
    for case in junit.iter("testcase"):
        ElementTree.SubElement(case, "skipped", type="pytest.skip", message=reason)
    junit.write(run_dir / "junit-resilience.xml", encoding="utf-8", xml_declaration=True)
    report = build_report(run_dir)
    statuses = gate_statuses(report.summary)
    stack_only = ("migration", "rollback", "flags", "backup", "breakers", "idempotency")
    assert {statuses[gate] for gate in stack_only} == {"n/a"}
    assert statuses["rate-limiting"] == "pass"  # the security suite's bypass tests and the load run
    assert report.summary.deployment is True
    assert report.summary.verdict == "GO"


def dead_process() -> str:
    """The identity of a process that ran and is gone."""
    script = "from golive.core.owners import identity; print(identity())"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize(("owner", "verdict"), [(dead_process, "INCOMPLETE"), (identity, "NO-GO")])
def test_failures_of_a_killed_run_make_it_incomplete_not_no_go(
    tmp_path: Path, owner: Callable[[], str], verdict: str
) -> None:
    """A validate that never finished: killed (its process gone) or still running (this one)."""
    run_dir = copy_of("no-go", tmp_path)

    def never_finished(meta: dict[str, Any]) -> None:
        entry = meta["commands"]["validate"]
        for closing in ("finished_at", "exit_code", "verdict"):
            entry.pop(closing, None)
        entry["owner"] = owner()

    edit_json(run_dir / "run.json", never_finished)
    report = build_report(run_dir)
    assert report.summary.verdict == verdict
    killed = "golive validate was killed before it finished (its stack died with it)"
    assert (killed in report.summary.reasons) == (verdict == "INCOMPLETE")
    assert "redis-down (deviated)" in " ".join(report.summary.reasons)


def test_a_full_disk_makes_the_report_incomplete_and_never_half_writes_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = copy_of("go", tmp_path)
    build_report(run_dir)
    before = {name: (run_dir / name).read_bytes() for name in FILES}
    real_fdopen = os.fdopen

    class FullDisk(io.RawIOBase):
        """Takes a few bytes, then the disk is full (as write(2) answers ENOSPC)."""

        def __init__(self, fd: int) -> None:
            self.real = real_fdopen(fd, "wb")

        def write(self, data: Any) -> int:
            self.real.write(bytes(data)[:10])
            self.real.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            self.real.close()
            super().close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *args, **kwargs: FullDisk(fd))
    report = build_report(run_dir)
    monkeypatch.undo()
    assert report.summary.verdict == "INCOMPLETE"
    assert report.summary.reasons[0] == "the report could not be written: No space left on device"
    assert report.unwritten == report.summary.reasons[0]
    assert {name: (run_dir / name).read_bytes() for name in FILES} == before
    assert not [path for path in run_dir.iterdir() if path.name.startswith(tuple(f".{n}." for n in FILES))]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills up."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def test_golive_report_on_a_full_disk_says_incomplete_and_why(tiny_disk: Path) -> None:
    run_dir = Path(shutil.copytree(RUNS / "go", tiny_disk / "run", ignore=shutil.ignore_patterns("load")))
    filler = tiny_disk / "filler"
    with filler.open("wb") as output, contextlib.suppress(OSError):
        while True:
            output.write(b"\0" * 65536)
            output.flush()
    done = run_golive("report", str(run_dir), timeout=120)
    assert done.returncode == 3  # INCOMPLETE: not a NO-GO
    assert "Traceback" not in done.stderr
    assert "the report could not be written: No space left on device" in done.stderr
    assert "INCOMPLETE" in done.stderr
    assert "no report written" in done.stderr
    assert not (run_dir / "summary.json").exists()
