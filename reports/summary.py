"""The report's verdict and its machine-readable form: summary.json (a stable, versioned schema,
`summary.schema.json` next to this file), summary.md (for a pull-request comment) and junit.xml
(one test case per gate, for CI systems)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field

from golive.reports.evidence import Evidence
from golive.reports.gates import GateResult, Status

Verdict = Literal["GO", "NO-GO", "INCOMPLETE"]
# The exit code of a command that ends with a verdict: a script can tell "not ready" (1) from "we
# do not know" (3: a stage could not run, the run was killed, the report could not be written).
EXIT_CODES: dict[Verdict, int] = {"GO": 0, "NO-GO": 1, "INCOMPLETE": 3}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateSummary(_Model):
    id: str
    title: str
    spec: str = Field(description="the migration guide's check this gate stands for")
    status: Literal["pass", "fail", "missing", "n/a"]
    detail: str
    evidence: list[str] = Field(description="files of the run directory that prove it")


class SuiteSummary(_Model):
    passed: int
    failed: int
    errors: int
    skipped: int


class DrillSummary(_Model):
    ok: bool
    seconds: float


class ChaosSummary(_Model):
    experiment: str
    outcome: str
    duration_seconds: float
    recovery_seconds: float | None


class LoadSummary(_Model):
    profile: str
    ok: bool
    requests_per_second: float | None
    p95_ms: float | None
    failure_rate: float | None


class Summary(_Model):
    schema_version: Literal[1] = 1
    verdict: Verdict
    reasons: list[str] = Field(description="why the verdict is not GO (empty on GO)")
    run_id: str
    generated_at: str
    target: str | None = Field(description="the backend's URL")
    deployment: bool = Field(description="an existing deployment (--target) rather than a stack golive ran")
    mode: str | None = Field(description="quick or full (golive validate), else null")
    gates: list[GateSummary]
    suites: dict[str, SuiteSummary]
    drills: dict[str, DrillSummary]
    chaos: list[ChaosSummary]
    load: LoadSummary | None
    problems: list[str] = Field(description="parts of the run directory that could not be read")
    environment: dict[str, Any] | None


def decide(gates: list[GateResult], evidence: Evidence) -> tuple[Verdict, list[str]]:
    """NO-GO when any gate failed; INCOMPLETE when nothing failed but something is missing (or
    the run was interrupted, or a file unreadable), and when a command was killed: its stack
    died with it, and what failed after that proves nothing about the backend; GO otherwise."""
    failed = [f"{gate.title}: {gate.detail}" for gate in gates if gate.status == Status.FAIL]
    missing = [f"{gate.title}: {gate.detail}" for gate in gates if gate.status == Status.MISSING]
    stopped = ["the run was interrupted before it was done"] if evidence.interrupted else []
    killed = [
        f"golive {name} was killed before it finished (its stack died with it)" for name in evidence.killed
    ]
    if killed:
        return "INCOMPLETE", killed + failed + missing + evidence.problems
    if failed:
        return "NO-GO", failed + stopped + missing + evidence.problems
    if stopped or missing or evidence.problems:
        return "INCOMPLETE", stopped + missing + evidence.problems
    return "GO", []


def summarize(evidence: Evidence, gates: list[GateResult], deployment: bool) -> Summary:
    verdict, reasons = decide(gates, evidence)
    validate = evidence.commands.get("validate")
    load = evidence.load
    return Summary(
        verdict=verdict,
        reasons=reasons,
        run_id=evidence.run_dir.name,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        target=evidence.stack.sut if evidence.stack else None,
        deployment=deployment,
        mode=validate.mode if validate else None,
        gates=[
            GateSummary(
                id=gate.id,
                title=gate.title,
                spec=gate.spec,
                status=gate.status.value,
                detail=gate.detail,
                evidence=gate.evidence,
            )
            for gate in gates
        ],
        suites={
            name: SuiteSummary(passed=r.passed, failed=r.failed, errors=r.errors, skipped=r.skipped)
            for name, r in evidence.suites.items()
        },
        drills={
            name: DrillSummary(ok=drill.ok, seconds=drill.seconds) for name, drill in evidence.drills.items()
        },
        chaos=[
            ChaosSummary(
                experiment=journal.experiment,
                outcome=journal.outcome,
                duration_seconds=journal.duration_seconds,
                recovery_seconds=journal.recovery_seconds,
            )
            for journal in evidence.chaos.values()
        ],
        load=None
        if load is None
        else LoadSummary(
            profile=load.profile.name,
            ok=load.ok,
            requests_per_second=load.total.requests_per_second,
            p95_ms=load.total.p95_ms,
            failure_rate=load.total.failure_rate,
        ),
        problems=evidence.problems,
        environment=evidence.environment.model_dump(exclude_none=True) if evidence.environment else None,
    )


_ICONS = {"pass": "✅", "fail": "❌", "missing": "⚠️", "n/a": "⚪"}


def markdown(summary: Summary) -> str:
    lines = [
        f"## golive: **{summary.verdict}**",
        "",
        f"Run `{summary.run_id}`" + (f" against {summary.target}" if summary.target else ""),
        "",
        "| gate | status | detail |",
        "|---|---|---|",
    ]
    for gate in summary.gates:
        detail = gate.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {gate.title} | {_ICONS[gate.status]} {gate.status} | {detail} |")
    if summary.reasons:
        lines += ["", "**Why not GO:**", ""] + [f"- {reason}" for reason in summary.reasons]
    return "\n".join(lines) + "\n"


def junit(summary: Summary, gates: list[GateResult], evidence: Evidence) -> bytes:
    """A test case per gate, timed by how long producing its evidence took; the suite's time is
    their sum, its timestamp when the run directory's first command started (CI systems show both)."""
    seconds = {gate.id: gate.seconds for gate in gates}
    total = f"{sum(seconds.values()):.3f}"
    started = [_instant(command.started_at) for command in evidence.commands.values()]
    timestamp = min(
        (instant for instant in started if instant is not None),
        default=_instant(summary.generated_at) or datetime.now(UTC),
    ).isoformat()
    suite = ElementTree.Element(
        "testsuite",
        name="golive go-live gates",
        tests=str(len(summary.gates)),
        failures=str(sum(gate.status == "fail" for gate in summary.gates)),
        errors=str(sum(gate.status == "missing" for gate in summary.gates)),
        skipped=str(sum(gate.status == "n/a" for gate in summary.gates)),
        time=total,
        timestamp=timestamp,
        hostname=platform.node(),
    )
    for gate in summary.gates:
        case = ElementTree.SubElement(
            suite, "testcase", classname="golive.gates", name=gate.id, time=f"{seconds.get(gate.id, 0):.3f}"
        )
        if gate.status == "fail":
            ElementTree.SubElement(case, "failure", message=gate.detail).text = gate.detail
        elif gate.status == "missing":
            ElementTree.SubElement(case, "error", message=gate.detail).text = gate.detail
        elif gate.status == "n/a":
            ElementTree.SubElement(case, "skipped", message=gate.detail)
        ElementTree.SubElement(case, "system-out").text = " ".join(gate.evidence)
    root = ElementTree.Element(
        "testsuites",
        name="golive",
        tests=suite.get("tests", "0"),
        failures=suite.get("failures", "0"),
        errors=suite.get("errors", "0"),
        skipped=suite.get("skipped", "0"),
        time=total,
        timestamp=timestamp,
    )
    root.append(suite)
    body: bytes = ElementTree.tostring(root, encoding="unicode").encode()
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _instant(value: object) -> datetime | None:
    """A run.json time ("2026-11-28T11:46:49Z"); None for what is not one (a hand-edited file)."""
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


SCHEMA_FILE = Path(__file__).resolve().parent / "summary.schema.json"


def schema_text() -> str:
    """summary.json's JSON Schema, as committed in reports/summary.schema.json."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Summary.model_json_schema()}
    return json.dumps(document, indent=2) + "\n"
