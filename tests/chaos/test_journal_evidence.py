"""A chaos journal is read back by the type that wrote it (golive.core.chaos_evidence): what the
runner records reads back equal, a journal written before replicas were journaled still reads, and
a file of another shape (a field renamed or missing, an unknown outcome, a breaker event without
its state, Chaos Toolkit keys that disagree with golive's) is refused with the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golive.chaos.journal import Journal
from golive.core.chaos_evidence import RECOVERY_SECONDS, Check, JournalRecord, RequestRecord
from golive.core.records import EvidenceError


def a_journal() -> Journal:
    """An experiment that held: steady, a fault, a breaker opened and closed, recovered."""
    journal = Journal(experiment="redis-down", title="Redis goes away", seed=7, replicas=2)
    probes: list[Any] = []
    with journal.activity("probe", {"name": "served"}, probes) as probe:
        probe.output, probe.tolerance_met = {"status": 200}, True
    journal.steady_state("steady-state-before", probes)
    journal.event("step", index=0, action="fault")
    with journal.activity("action", {"name": "fault"}, journal.run):
        journal.event("fault-added", proxy="redis", type="down")
    journal.requests.append(
        RequestRecord(
            at=journal.now(),
            phase="method",
            method="GET",
            path="/api/v1/auth/me",
            status=503,
            latency_ms=4.5,
            error_code="CIRCUIT_OPEN",
            request_id="chaos-1",
            problems=[],
            replica=1,
            step=1,
        )
    )
    journal.event("breaker", breaker="redis", state="OPEN", replica=1)
    journal.event("faults-removed")
    journal.event("breaker", breaker="redis", state="CLOSED", replica=1)
    journal.steady_state("steady-state-after", probes)
    with journal.activity("action", {"name": "reset"}, journal.rollbacks):
        journal.event("rolled-back")
    journal.figures[RECOVERY_SECONDS] = 1.25
    journal.checks = [Check(name="every request was answered", ok=True, detail="0 without an answer")]
    journal.outcome = "held"
    journal.duration_seconds = journal.now()
    return journal


def test_what_the_runner_records_reads_back_equal(tmp_path: Path) -> None:
    journal = a_journal()
    path = journal.write(tmp_path / "chaos" / "redis-down-1.json")
    read = JournalRecord.read(path)
    assert read.model_dump() == journal.model_dump()
    assert (read.held, read.status, read.deviated, read.recovery_seconds) == (True, "completed", False, 1.25)
    assert [(event.breaker.breaker, event.breaker.state) for event in read.events if event.breaker] == [
        ("redis", "OPEN"),
        ("redis", "CLOSED"),
    ]
    before = read.steady_states.before
    assert before is not None
    assert before.steady_state_met
    assert [activity.activity["name"] for activity in read.run + read.rollbacks] == ["fault", "reset"]


def test_a_journal_written_before_replicas_were_journaled_reads_as_one_replica(tmp_path: Path) -> None:
    path = a_journal().write(tmp_path / "journal.json")
    document = json.loads(path.read_text())
    del document["replicas"]
    for request in document["requests"]:
        for key in ("replica", "step", "reached_upstream"):
            del request[key]
    path.write_text(json.dumps(document))
    read = JournalRecord.read(path)
    assert (read.replicas, read.requests[0].replica, read.requests[0].step) == (1, 0, None)


def renamed(document: dict[str, Any]) -> None:
    document["results"] = document.pop("checks")


def stateless_breaker(document: dict[str, Any]) -> None:
    (event,) = [event for event in document["events"] if event["detail"].get("state") == "OPEN"]
    del event["detail"]["state"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (renamed, "checks: Field required"),
        (lambda journal: journal["requests"][0].pop("latency_ms"), "requests.0.latency_ms: Field required"),
        (lambda journal: journal.update(outcome="passed"), "outcome: Input should be 'running', 'held'"),
        (stateless_breaker, "events.2.detail.state: Field required"),
        (
            lambda journal: journal.update(outcome="deviated"),
            "status: is 'completed', but the rest of the file makes it 'failed'",
        ),
        (lambda journal: journal.pop("duration"), "duration: Field required"),
    ],
)
def test_a_file_of_another_shape_is_refused_with_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    path = a_journal().write(tmp_path / "journal.json")
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(EvidenceError) as error:
        JournalRecord.read(path)
    assert error.value.reason.startswith(f"not a chaos journal golive writes: {problem}")


def test_an_event_without_what_the_report_reads_is_refused_when_it_is_recorded() -> None:
    with pytest.raises(ValueError, match=r"detail\.state\n  Field required"):
        Journal(experiment="e", title="t", seed=None).event("breaker", breaker="redis")
