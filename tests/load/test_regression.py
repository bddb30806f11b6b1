"""The load regression check, on the recorded GO run's load.json and edits of it: an endpoint
slower than the baseline allows is named with both figures; a quantile is compared only on
enough requests; a baseline of another machine, another load, or one that failed its own
thresholds is no reference, and the check says so instead of passing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from golive.core.load_evidence import LoadRecord, Machine
from golive.core.load_regression import NO_BASELINE, QuantileChange, compare, requests_needed

RECORDED = Path(__file__).resolve().parents[1] / "reports" / "runs" / "go" / "load" / "load.json"
ME = "[burst] GET /api/v1/auth/me"  # 38 requests in the recorded run, median 5 ms


@pytest.fixture
def baseline() -> LoadRecord:
    return LoadRecord.read(RECORDED)


def edited(record: LoadRecord, endpoint: str | None = None, **changes: Any) -> LoadRecord:
    """A copy with `changes` to one endpoint's figures, or (no endpoint) to the record itself."""
    copy = record.model_copy(deep=True, update={} if endpoint else changes)
    if endpoint is not None:
        copy.endpoints[endpoint] = copy.endpoints[endpoint].model_copy(update=changes)
    return copy


def test_a_median_needs_20_requests_and_a_p95_200() -> None:
    assert (requests_needed(50), requests_needed(95)) == (20, 200)


def test_without_a_baseline_the_check_says_n_a_and_how_to_give_one(baseline: LoadRecord) -> None:
    regression = compare(baseline, None)
    assert regression.not_compared == NO_BASELINE
    assert regression.summary.startswith("regression: n/a (no baseline given (--baseline RUN_DIR")
    assert regression.regressed == []


def test_the_same_figures_are_no_regression_and_only_well_sampled_medians_are_compared(
    baseline: LoadRecord,
) -> None:
    regression = compare(edited(baseline, run_id="now"), baseline)
    assert regression.not_compared is None
    assert regression.regressed == []
    # The smoke run: three request kinds had 20 requests or more, none had the 200 of a p95.
    assert [(change.endpoint, change.quantile) for change in regression.changes] == [
        ("[burst] GET /api/v1/auth/me", 50),
        ("[burst] GET /api/v1/auth/me (throttled)", 50),
        ("[health] GET /health", 50),
    ]
    assert "[content] GET /api/v1/content/{id}" in regression.too_few_requests
    assert regression.summary == (
        "no regression against run vq: 3 endpoints within 2x the baseline's + 10 ms "
        "(p50 of 3, p95 of 0; 10 with too few requests)"
    )


def test_a_slower_endpoint_is_named_with_its_figures_and_the_baselines(baseline: LoadRecord) -> None:
    slower = edited(baseline, ME, p50_ms=57.0)
    regression = compare(slower, baseline)
    (regressed,) = regression.regressed
    assert regressed == QuantileChange(ME, 50, 57.0, 5.0)
    assert regression.summary == (
        f"regressed against run vq: {ME}: p50 57 ms, 11.4x the baseline's 5 ms (limit 20 ms)"
    )


@pytest.mark.parametrize(("median_ms", "regressed"), [(20.0, False), (21.0, True)])
def test_the_limit_is_twice_the_baseline_plus_the_slack(
    baseline: LoadRecord, median_ms: float, regressed: bool
) -> None:
    """5 ms in the baseline: 2 x 5 + 10 = 20 ms is still as fast as a busy machine makes it."""
    (change,) = [
        c for c in compare(edited(baseline, ME, p50_ms=median_ms), baseline).changes if c.endpoint == ME
    ]
    assert change.limit_ms == 20.0
    assert change.regressed is regressed


def test_a_p95_is_compared_once_both_runs_have_200_requests(baseline: LoadRecord) -> None:
    many = edited(baseline, ME, requests=250, p95_ms=40.0)
    assert [c.quantile for c in compare(many, many).changes if c.endpoint == ME] == [50, 95]
    tail = compare(edited(many, ME, p95_ms=100.0), many)
    assert [(change.quantile, change.ms, change.baseline_ms) for change in tail.regressed] == [
        (95, 100.0, 40.0)
    ]
    # The same slow tail over the 38 requests of the smoke run is a straggler or two: not judged.
    assert compare(edited(baseline, ME, p95_ms=1000.0), baseline).regressed == []


def test_an_endpoint_with_too_few_requests_in_either_run_is_listed_not_compared(baseline: LoadRecord) -> None:
    sparse = edited(baseline, ME, requests=19, p50_ms=500.0)
    for current, reference in ((sparse, baseline), (baseline, sparse)):
        regression = compare(current, reference)
        assert ME in regression.too_few_requests
        assert ME not in {change.endpoint for change in regression.changes}
        assert regression.regressed == []


def test_a_request_kind_the_baseline_never_saw_is_not_compared(baseline: LoadRecord) -> None:
    current = baseline.model_copy(deep=True)
    current.endpoints["[new] GET /api/v1/new"] = current.endpoints[ME]
    assert "[new] GET /api/v1/new" in compare(current, baseline).too_few_requests


def test_when_no_endpoint_has_enough_requests_the_check_is_n_a(baseline: LoadRecord) -> None:
    few = baseline.model_copy(deep=True)
    few.endpoints = {
        name: figures.model_copy(update={"requests": 5}) for name, figures in few.endpoints.items()
    }
    regression = compare(few, baseline)
    assert regression.not_compared == "no endpoint had the 20 requests a median needs in both runs"


@pytest.mark.parametrize(
    ("machine", "named"),
    [
        (
            {"cpu_model": "Intel(R) Xeon(R) Platinum 8375C"},
            "cpu_model Intel(R) Xeon(R) Platinum 8375C (baseline: AMD EPYC)",
        ),
        ({"cpus": 8}, "cpus 8 (baseline: 2)"),
        ({"python": "3.12.1"}, "python 3.12.1 (baseline: 3.11.7)"),
    ],
)
def test_a_baseline_from_another_machine_is_no_reference(
    baseline: LoadRecord, machine: dict[str, Any], named: str
) -> None:
    elsewhere = edited(baseline, machine=baseline.machine.model_copy(update=machine))
    regression = compare(edited(elsewhere, ME, p50_ms=500.0), baseline)
    assert regression.not_compared == f"the baseline run vq ran on another machine: {named}"
    assert regression.regressed == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"profile": {"users": 50}}, "users 50 (baseline: 10)"),
        ({"profile": {"run_time": "60s"}}, "run_time 60s (baseline: 15s)"),
        ({"profile": {"journeys": {"health": 1}}}, "journeys {'health': 1}"),
        ({"locust_workers": 2}, "locust_workers 2 (baseline: 0)"),
        ({"backends": 2}, "backends 2 (baseline: 1)"),
    ],
)
def test_a_baseline_of_another_load_is_no_reference(
    baseline: LoadRecord, change: dict[str, Any], named: str
) -> None:
    profile = baseline.profile.model_copy(update=change.pop("profile", {}))
    other = edited(baseline, profile=profile, **change)
    regression = compare(other, baseline)
    assert regression.not_compared is not None
    assert regression.not_compared.startswith("the baseline run vq ran another load: ")
    assert named in regression.not_compared


def test_the_profile_name_and_thresholds_are_not_the_load(baseline: LoadRecord) -> None:
    profile = baseline.profile.model_copy(update={"name": "ours", "thresholds": {}})
    assert compare(edited(baseline, profile=profile), baseline).not_compared is None


def test_a_baseline_that_failed_its_own_thresholds_is_no_reference(baseline: LoadRecord) -> None:
    regression = compare(baseline, edited(baseline, ok=False))
    assert regression.not_compared == "the baseline run vq failed its own thresholds: it is no reference"


def test_the_machine_is_described_by_its_facts() -> None:
    here = Machine.here()
    assert here.cpus >= 1
    assert here.cpu_model
    assert here.python.count(".") == 2
