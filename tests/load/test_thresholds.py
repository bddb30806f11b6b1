"""k6-style thresholds: each kind passes and fails where it should, and a threshold that cannot be
read says why."""

from __future__ import annotations

from collections import Counter

import pytest

from golive.loadtests.results import Endpoint, RunStats
from golive.loadtests.thresholds import ThresholdError, evaluate, parse


def endpoint(
    name: str, times: list[float], failures: int = 0, first: float = 1000.0, last: float = 1010.0
) -> Endpoint:
    return Endpoint(
        name=name,
        method="GET",
        requests=len(times),
        failures=failures,
        total_ms=sum(times),
        min_ms=min(times) if times else None,
        max_ms=max(times, default=0.0),
        histogram=Counter(times),
        first=first,
        last=last,
    )


# 100 health checks at 1..100 ms, 10 content requests at 500 ms of which 2 failed; 10 s.
STATS = RunStats(
    [
        endpoint("[health] GET /health", [float(ms) for ms in range(1, 101)]),
        endpoint("[content] POST /api/v1/content/generate", [500.0] * 10, failures=2),
    ]
)


@pytest.mark.parametrize(
    ("key", "expression", "observed", "passes"),
    [
        ("http_req_duration{group:health}", "p(95) < 96", 95, True),
        ("http_req_duration{group:health}", "p(95) < 95", 95, False),
        ("http_req_duration{group:health}", "p(99.9) <= 100", 100, True),
        ("http_req_duration{group:health}", "avg < 51", 50.5, True),
        ("http_req_duration{group:health}", "avg < 50", 50.5, False),
        ("http_req_duration{group:health}", "med == 50", 50, True),
        ("http_req_duration{group:health}", "min >= 2", 1, False),
        ("http_req_duration{group:health}", "max < 0.1s", 100, False),
        ("http_req_duration{group:health}", "max <= 100ms", 100, True),
        ("http_req_duration", "p(95) < 500", 500, False),
        ("http_req_duration", "p(90) < 500", 99, True),  # rank 99 of 110
        ("http_req_failed", "rate < 0.02", 2 / 110, True),
        ("http_req_failed", "rate < 0.01", 2 / 110, False),
        ("http_req_failed{group:content}", "count == 2", 2, True),
        ("http_req_failed{group:health}", "count > 0", 0, False),
        ("http_reqs", "rate > 10", 11, True),
        ("http_reqs", "rate > 11", 11, False),
        ("http_reqs{name:[health] GET /health}", "count >= 100", 100, True),
        ("http_reqs{name:[health] GET /health}", "count != 100", 100, False),
    ],
)
def test_each_kind_passes_and_fails_where_it_should(
    key: str, expression: str, observed: float, passes: bool
) -> None:
    verdict = evaluate(parse(key, expression), STATS)
    assert verdict.observed == pytest.approx(observed)
    assert verdict.ok is passes
    assert verdict.threshold.source == f"{key}: {expression}"


def test_a_selector_that_matches_nothing_fails() -> None:
    verdict = evaluate(parse("http_req_duration{group:admin}", "p(95) < 1000"), STATS)
    assert not verdict.ok
    assert verdict.detail == "no requests matched {group:admin}"


def test_a_run_without_requests_fails_every_threshold() -> None:
    verdict = evaluate(parse("http_req_failed", "rate < 0.01"), RunStats([]))
    assert not verdict.ok
    assert verdict.detail == "no requests matched the run"


@pytest.mark.parametrize(
    ("key", "expression", "message"),
    [
        ("http_req_latency", "p(95) < 1", "unknown metric 'http_req_latency'"),
        ("http_req_duration{tag:x}", "p(95) < 1", "expected METRIC or METRIC{group:NAME}"),
        ("http_req_duration", "p95 < 1", "expected AGGREGATION OPERATOR NUMBER"),
        ("http_req_duration", "p(95) =< 1", "expected AGGREGATION OPERATOR NUMBER"),
        ("http_req_duration", "rate < 1", "http_req_duration has no rate"),
        ("http_req_failed", "p(95) < 1", "http_req_failed has no p(95)"),
        ("http_reqs", "avg > 1", "http_reqs has no avg"),
        ("http_req_duration", "p(0) < 1", "a percentile is between 0 and 100"),
        ("http_req_duration", "p(101) < 1", "a percentile is between 0 and 100"),
        ("http_req_failed", "rate < 1s", "only durations take a unit"),
    ],
)
def test_a_threshold_that_cannot_be_read_says_why(key: str, expression: str, message: str) -> None:
    with pytest.raises(ThresholdError) as error:
        parse(key, expression)
    assert message in str(error.value)
    assert str(error.value).startswith(f"{key}: {expression}: ")
