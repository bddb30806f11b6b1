"""The checkers must fail on the histories they exist to catch."""

from __future__ import annotations

from golive.chaos.checkers import run_checks
from golive.chaos.experiment import Expectations
from golive.chaos.journal import Journal, RequestRecord


def record(
    status: int,
    *,
    code: str | None = None,
    latency: float = 5.0,
    problems: list[str] | None = None,
    content_id: str | None = None,
    writes: bool = False,
    phase: str = "method",
) -> RequestRecord:
    return RequestRecord(
        1.0, phase, "POST", "/x", status, latency, code, "id", problems or [], content_id, writes
    )


def verdicts(
    records: list[RequestRecord],
    expectations: Expectations,
    rows: dict[str, str] | None = None,
    **figures: float | None,
) -> dict[str, bool]:
    journal = Journal("e", "t", None)
    journal.requests = records
    journal.figures.update(figures)
    return {check.name: check.ok for check in run_checks(journal, expectations, lambda: rows or {})}


def test_a_clean_history_passes() -> None:
    assert all(verdicts([record(201), record(200)], Expectations()).values())


def test_an_answer_outside_the_envelope_fails() -> None:
    assert (
        verdicts([record(500, problems=["body is not JSON"])], Expectations())["every answer is an envelope"]
        is False
    )


def test_forbidden_statuses_and_unanswered_requests_fail() -> None:
    result = verdicts([record(500), record(0)], Expectations())
    assert result["no status among [500]"] is False
    assert result["every request was answered"] is False


def test_unexpected_and_missing_error_codes_fail() -> None:
    expectations = Expectations(error_codes_allowed=["CIRCUIT_OPEN"], error_codes_required=["CIRCUIT_OPEN"])
    result = verdicts([record(503, code="DEPENDENCY_UNAVAILABLE")], expectations)
    assert result["only the allowed error codes"] is False
    assert result["CIRCUIT_OPEN was answered"] is False


def test_slow_answers_fail_both_latency_bounds() -> None:
    expectations = Expectations(max_latency_ms=100, max_latency_ms_while_open=10)
    result = verdicts([record(503, code="CIRCUIT_OPEN", latency=50), record(201, latency=150)], expectations)
    assert result["every answer within 100 ms"] is False
    assert result["refusals while open within 10 ms"] is False


def test_no_refusal_while_open_is_itself_a_failure() -> None:
    assert (
        verdicts([record(201)], Expectations(max_latency_ms_while_open=10))[
            "refusals while open within 10 ms"
        ]
        is False
    )


def test_a_breaker_that_never_opened_fails() -> None:
    assert (
        verdicts([record(201)], Expectations(breakers_opened=["ai-service"]))["breaker ai-service opened"]
        is False
    )


def test_no_recovery_and_slow_recovery_fail() -> None:
    assert verdicts([], Expectations(recovery_within_seconds=2))["recovered within 2.0 s"] is False
    assert (
        verdicts([], Expectations(recovery_within_seconds=2), recovery_seconds=3.5)["recovered within 2.0 s"]
        is False
    )


def test_a_lost_acknowledged_write_fails() -> None:
    expectations = Expectations(no_acknowledged_write_lost=True)
    writes = [record(201, content_id="a", writes=True), record(201, content_id="b", writes=True)]
    assert verdicts(writes, expectations, {"a": "completed"})["no acknowledged write lost"] is False
    assert (
        verdicts(writes, expectations, {"a": "completed", "b": "failed"})["no acknowledged write lost"]
        is False
    )


def test_writes_nobody_asked_for_fail() -> None:
    expectations = Expectations(no_acknowledged_write_lost=True, no_duplicate_writes=True)
    writes = [record(201, content_id="a", writes=True)]
    result = verdicts(writes, expectations, {"a": "completed", "b": "completed"})
    assert result["nothing written that was not requested"] is False
    assert result["no duplicate writes"] is False


def test_too_few_successes_and_retries_fail() -> None:
    expectations = Expectations(min_success_ratio=0.9, retries_at_least={"ai-service": 3})
    result = verdicts([record(201), record(502)], expectations, None, **{"ai-service.retries": 1})
    assert result["at least 90% succeeded"] is False
    assert result["ai-service retried at least 3 times"] is False
