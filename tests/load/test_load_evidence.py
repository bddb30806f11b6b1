"""load.json and timeline.json are read back by the types that wrote them: what a load run writes
reads back equal, with the baseline it was compared with beside it, and a file of another shape
is refused with the field that is wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golive.core.load_evidence import (
    BASELINE_FILE,
    LOAD_FILE,
    TIMELINE_FILE,
    LoadRecord,
    Machine,
    TimelineRecord,
    read_load_record,
)
from golive.core.records import EvidenceError
from golive.loadtests.profiles import Profile
from golive.loadtests.results import read_history, read_stats
from golive.loadtests.run import BreakerChange, GeneratorLoad, LoadResult
from golive.loadtests.thresholds import evaluate_all
from tests.load.test_profiles_and_results import ENTRY

HISTORY = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size\n"
    "1000,5,,Aggregated,4.5,0.5,6,7,8,9,10,12,13,14,15,15,15,9,1,6,7.0,1,15,20\n"
    "1001,5,,Aggregated,5.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,14,1,6,7.0,1,15,20\n"
)


PROFILE = Profile(users=2, spawn_rate=2, run_time="10s", thresholds={"http_req_failed": ["rate < 0.01"]})
HEALTH = "[health] GET /health"


def a_result(tmp_path: Path, median_ms: float = 6.0, baseline: LoadRecord | None = None) -> LoadResult:
    """A run of 30 health checks taking `median_ms` each, and a throttled burst request."""
    health = {**ENTRY, "num_requests": 30, "num_failures": 0, "response_times": {str(median_ms): 30}}
    throttled = {**ENTRY, "name": "[burst] GET /x (throttled)", "num_failures": 0}
    (tmp_path / "stats.json").write_text(json.dumps([health, throttled]))
    (tmp_path / "history.csv").write_text(HISTORY)
    stats = read_stats(tmp_path / "stats.json")
    return LoadResult(
        run_id="run-1",
        profile=PROFILE,
        machine=Machine.here(),
        backends=1,
        workers=0,
        stats=stats,
        history=read_history(tmp_path / "history.csv"),
        verdicts=evaluate_all(PROFILE.parsed_thresholds(), stats),
        breakers=[BreakerChange(1000.5, "ai-service", "OPEN")],
        generator=GeneratorLoad([10.0, 30.0]),
        events=[{"at": 1001.25, "kind": "fault-added", "toxic": "latency"}],
        baseline=baseline,
    )


def test_what_a_load_run_writes_reads_back_equal(tmp_path: Path) -> None:
    result = a_result(tmp_path)
    load_dir = tmp_path / "load"
    load_dir.mkdir()
    written = result.write(load_dir)
    assert LoadRecord.read(written) == result.document()
    assert read_load_record(tmp_path) == read_load_record(load_dir) == result.document()
    timeline = TimelineRecord.read(load_dir / "timeline.json")
    assert timeline == result.timeline()
    assert [(event.t, event.kind) for event in timeline.events] == [(0.5, "breaker"), (1.25, "fault-added")]
    assert timeline.events[1].model_extra == {"at": 1001.25, "toxic": "latency"}
    assert [second.breakers for second in timeline.seconds] == [
        {"ai-service": "OPEN"},
        {"ai-service": "OPEN"},
    ]
    assert not (load_dir / BASELINE_FILE).exists()


def test_the_baseline_is_kept_beside_the_run_and_a_stale_one_removed(tmp_path: Path) -> None:
    load_dir = tmp_path / "load"
    load_dir.mkdir()
    earlier = a_result(tmp_path).document()
    a_result(tmp_path, baseline=earlier).write(load_dir)
    assert LoadRecord.read(load_dir / BASELINE_FILE) == earlier
    a_result(tmp_path).write(load_dir)  # the run directory reused, without a baseline this time
    assert not (load_dir / BASELINE_FILE).exists()


def test_a_regression_fails_the_run_but_not_its_thresholds(tmp_path: Path) -> None:
    """load.json's `ok` says the thresholds held: what makes a run a baseline for later ones."""
    fast = a_result(tmp_path, median_ms=6.0).document()
    assert not a_result(tmp_path, median_ms=22.0, baseline=fast).regression.regressed  # 2 x 6 + 10
    slow = a_result(tmp_path, median_ms=23.0, baseline=fast)
    assert [str(change) for change in slow.regression.regressed] == [
        f"{HEALTH}: p50 23 ms, 3.8x the baseline's 6 ms (limit 22 ms)"
    ]
    assert slow.ok
    assert slow.document().ok
    assert not slow.passed


@pytest.mark.parametrize(
    ("outcome", "passed"),
    [
        ("held", True),
        ("deviated", False),
        ("steady-state-not-met", False),
        ("still running when the load ended", False),
    ],
)
def test_a_run_under_faults_passes_only_if_its_experiment_held(
    tmp_path: Path, outcome: str, passed: bool
) -> None:
    """The thresholds held either way (load.json's `ok`): a baseline for later runs all the same."""
    without = a_result(tmp_path)
    assert without.experiment is None
    assert without.passed
    result = a_result(tmp_path)
    result.events.append({"at": 1002.0, "kind": "experiment", "name": "redis-down", "outcome": outcome})
    assert result.experiment == ("redis-down", outcome)
    assert result.ok
    assert result.passed is passed


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not the load evidence golive writes: document: Invalid JSON"),
        ('{"run_id": "x"}', "not the load evidence golive writes: profile: Field required"),
    ],
)
def test_a_file_of_another_shape_is_refused_with_the_field(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "load.json"
    path.write_text(content)
    with pytest.raises(EvidenceError) as error:
        LoadRecord.read(path)
    assert str(error.value).startswith(f"{path}: {problem}")


def without_breakers(timeline: dict[str, Any]) -> None:
    del timeline["seconds"][1]["breakers"]


def renamed_p95(timeline: dict[str, Any]) -> None:
    timeline["seconds"][0]["p95"] = timeline["seconds"][0].pop("p95_ms")


def without_replicas(load: dict[str, Any]) -> None:
    del load["profile"]["replicas"]  # a field with a default: a profile may leave it, a file may not


@pytest.mark.parametrize(
    ("file", "change", "problem"),
    [
        (TIMELINE_FILE, without_breakers, "seconds.1.breakers: Field required"),
        (TIMELINE_FILE, renamed_p95, "seconds.0.p95_ms: Field required"),
        (LOAD_FILE, without_replicas, "profile.replicas: Field required"),
    ],
)
def test_what_a_load_run_wrote_with_a_field_renamed_or_missing_is_refused(
    tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    a_result(tmp_path).write(tmp_path)
    path = tmp_path / file
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    kind = TimelineRecord if file == TIMELINE_FILE else LoadRecord
    with pytest.raises(EvidenceError) as error:
        kind.read(path)
    assert error.value.reason == f"not the load evidence golive writes: {problem}"


def test_the_history_read_is_the_timeline_timed_from_its_first_second(tmp_path: Path) -> None:
    """Locust's seconds are the timeline's type: read with the run's clock, the breakers added by
    the run."""
    result = a_result(tmp_path)
    assert [(second.t, second.at, second.breakers) for second in result.history] == [
        (0, 1000, {}),
        (1, 1001, {}),
    ]
    assert [second.t for second in result.timeline().seconds] == [0, 1]


def test_a_baseline_path_without_a_load_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match=r"no load\.json there, nor in .*/load$"):
        read_load_record(tmp_path)
