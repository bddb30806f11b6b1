"""The checkers must fail on the histories they exist to catch."""

from __future__ import annotations

import yaml

from golive.chaos.checkers import run_checks
from golive.chaos.experiment import Expectations, Step
from golive.chaos.journal import Journal
from golive.core.chaos_evidence import RequestRecord


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
        at=1.0,
        phase=phase,
        method="POST",
        path="/x",
        status=status,
        latency_ms=latency,
        error_code=code,
        request_id="id",
        problems=problems or [],
        content_id=content_id,
        writes=writes,
    )


def verdicts(
    records: list[RequestRecord],
    expectations: Expectations,
    rows: dict[str, str] | None = None,
    **figures: float | None,
) -> dict[str, bool]:
    journal = Journal(experiment="e", title="t", seed=None)
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


def step_verdicts(
    records: list[RequestRecord], traffic: str, shared: bool = False
) -> dict[str, tuple[bool, str]]:
    """The checks of one traffic step (step 0 of the method), by name: (ok, detail)."""
    journal = Journal(experiment="e", title="t", seed=None, replicas=2)
    journal.requests = records
    method = [Step.model_validate({"traffic": yaml.safe_load(traffic)})]
    checks = run_checks(journal, Expectations(), dict, method, shared=shared)
    return {check.name: (check.ok, check.detail) for check in checks if check.name.startswith("step ")}


def on(replica: int, status: int, code: str | None = None, reached: bool | None = False) -> RequestRecord:
    sent = record(status, code=code)
    sent.replica, sent.step, sent.reached_upstream = replica, 0, reached
    return sent


BURST = "{request: {path: /x}, count: 4, expect: {admitted: 2}}"
ON_REPLICA_1 = (
    "{request: {path: /x}, count: 2, replica: 1, expect: {error_code: CIRCUIT_OPEN, reached_upstream: 0}}"
)


def test_a_burst_admitted_past_the_limit_fails_and_says_which_replica_admitted_what() -> None:
    held = step_verdicts([on(0, 200), on(1, 200), on(0, 429), on(1, 429)], BURST)
    assert held == {
        "step 0 across the replicas: exactly 2 admitted": (
            True,
            "2 of 4 admitted (replica 0: 1, replica 1: 1)",
        )
    }
    doubled = step_verdicts([on(0, 200), on(1, 200), on(0, 200), on(1, 429)], BURST)
    assert doubled["step 0 across the replicas: exactly 2 admitted"] == (
        False,
        "3 of 4 admitted (replica 0: 2, replica 1: 1)",
    )


def test_requests_of_other_steps_and_phases_are_not_judged_with_the_step() -> None:
    probe = on(0, 200)
    probe.phase, probe.step = "steady-state-before", None
    later = on(1, 200)
    later.step = 1
    assert step_verdicts([on(0, 200), on(1, 200), probe, later], BURST)[
        "step 0 across the replicas: exactly 2 admitted"
    ][0]


def test_a_replica_that_calls_the_failing_service_instead_of_refusing_fails_both_checks() -> None:
    refused = [on(1, 503, "CIRCUIT_OPEN"), on(1, 503, "CIRCUIT_OPEN")]
    assert all(ok for ok, _ in step_verdicts(refused, ON_REPLICA_1).values())
    called = [on(1, 504, "UPSTREAM_TIMEOUT", reached=True), on(1, 503, "CIRCUIT_OPEN")]
    result = step_verdicts(called, ON_REPLICA_1)
    ok, detail = result["step 0 on replica 1: every answer CIRCUIT_OPEN"]
    assert not ok
    assert detail == "1 of 2; first other: POST /x -> 504 UPSTREAM_TIMEOUT at 1.0 s on replica 1"
    assert result["step 0 on replica 1: 0 requests reached the AI service"] == (
        False,
        "1 of 2 reached it (replica 1: 1)",
    )


def test_a_request_not_known_to_have_missed_the_service_does_not_count_as_missed() -> None:
    result = step_verdicts(
        [on(1, 503, "CIRCUIT_OPEN"), on(1, 503, "CIRCUIT_OPEN", reached=None)], ON_REPLICA_1
    )
    ok, detail = result["step 0 on replica 1: 0 requests reached the AI service"]
    assert not ok
    assert "1 not known" in detail


def test_a_step_without_requests_has_not_refused_anything() -> None:
    assert step_verdicts([], ON_REPLICA_1)["step 0 on replica 1: every answer CIRCUIT_OPEN"][0] is False


TRIPPING = "{request: {path: /x}, count: 2, replica: 0, expect: {reached_upstream: 2}}"


def test_beside_other_traffic_the_requests_that_reached_the_service_are_a_bound() -> None:
    """Alone, a step's requests reach the service exactly as often as the experiment says. Beside
    a load run, whose failures count towards the same breaker, fewer may (the breaker opened
    sooner), but never more."""
    one_refused = [on(0, 504, "UPSTREAM_TIMEOUT", reached=True), on(0, 503, "CIRCUIT_OPEN", reached=False)]
    alone = "step 0 on replica 0: 2 requests reached the AI service"
    beside = "step 0 on replica 0: at most 2 requests reached the AI service"
    assert step_verdicts(one_refused, TRIPPING)[alone][0] is False
    assert step_verdicts(one_refused, TRIPPING, shared=True)[beside] == (
        True,
        "1 of 2 reached it (replica 0: 1)",
    )
    three = [*one_refused[:1], on(0, 504, reached=True), on(0, 504, reached=True)]
    assert step_verdicts(three, TRIPPING, shared=True)[beside][0] is False
    unknown = [*one_refused[:1], on(0, 504, reached=None)]
    assert step_verdicts(unknown, TRIPPING, shared=True)[beside][0] is False
