"""Profiles are checked before anything starts, with errors that name the file, profile and field;
Locust's files are read back, or refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive.core.load_evidence import Figures
from golive.loadtests.profiles import DEFAULT_FILE, ProfileError, load_profile, load_profiles, seconds
from golive.loadtests.results import ResultsError, read_history, read_stats


def test_the_shipped_profiles_load_with_their_thresholds() -> None:
    profiles = load_profiles()
    assert list(profiles) == ["smoke", "baseline", "stress", "soak"]
    assert profiles["smoke"].seconds == 15
    assert profiles["soak"].seconds == 1800
    assert all(profile.parsed_thresholds() for profile in profiles.values())
    assert profiles["smoke"].account_count == profiles["smoke"].users


@pytest.mark.parametrize(
    ("text", "expected"), [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), (15, 15)]
)
def test_durations(text: str | int, expected: float) -> None:
    assert seconds(text) == expected


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    return path


VALID = "users: 1\n  spawn_rate: 1\n  run_time: 5s\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "p:\n  " + VALID + "  journeys: {health: 1, browse: 2}\n",
            "profile 'p': journeys: unknown journey browse",
        ),
        ("p:\n  " + VALID + "  journeys: {health: 0}\n", "every journey has weight 0"),
        (
            "p:\n  users: 0\n  spawn_rate: 1\n  run_time: 5s\n",
            "profile 'p': users: Input should be greater than or equal to 1",
        ),
        (
            "p:\n  users: 1\n  spawn_rate: 1\n  run_time: soon\n",
            "profile 'p': run_time: 'soon' is not a duration",
        ),
        ("p:\n  " + VALID + "  colour: red\n", "profile 'p': colour: Extra inputs are not permitted"),
        (
            "p:\n  " + VALID + "  thresholds: {http_reqs: ['avg > 1']}\n",
            "profile 'p': thresholds: http_reqs: avg > 1: http_reqs has no avg",
        ),
        ("p: 3\n", "profile 'p': expected a mapping"),
        ("[1, 2]\n", "expected a mapping of profile names to profiles"),
        ("p: {users: [\n", "line 2: not valid YAML"),
        (
            "p:\n  users: many\n  spawn_rate: 1\n  run_time: 5s\n",
            "profile 'p': users: Input should be a valid integer",
        ),
        ("p:\n  spawn_rate: 1\n  run_time: 5s\n", "profile 'p': users: Field required"),
    ],
)
def test_a_bad_profiles_file_is_refused_precisely(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as error:
        load_profiles(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "\n" not in str(error.value)  # one line


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"no profile 'huge' \(there are: smoke, baseline, stress, soak\)"):
        load_profile("huge", DEFAULT_FILE)


def test_a_missing_profiles_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read: No such file or directory"):
        load_profiles(tmp_path / "absent.yaml")


ENTRY = {
    "name": "[health] GET /health",
    "method": "GET",
    "last_request_timestamp": 1010.5,
    "start_time": 1000.0,
    "num_requests": 3,
    "num_none_requests": 0,
    "num_failures": 1,
    "total_response_time": 30.0,
    "max_response_time": 20.0,
    "min_response_time": 4.0,
    "total_content_length": 10,
    "response_times": {"4": 1, "6": 1, "20": 1},
    "num_reqs_per_sec": {},
    "num_fail_per_sec": {},
}


def test_locusts_statistics_are_read_and_worker_markers_set_apart(tmp_path: Path) -> None:
    marker = {**ENTRY, "name": "worker 1", "method": "WORKER", "num_requests": 1}
    path = tmp_path / "stats.json"
    path.write_text(json.dumps([ENTRY, marker]))
    stats = read_stats(path)
    assert stats.workers == ["worker 1"]
    assert [endpoint.group for endpoint in stats.endpoints] == ["health"]
    assert stats.select().summary() == Figures(
        requests=3,
        failures=1,
        failure_rate=0.33333,
        requests_per_second=0.29,
        avg_ms=10.0,
        p50_ms=6.0,
        p95_ms=20.0,
        p99_ms=20.0,
        max_ms=20.0,
    )


def test_only_the_burst_journeys_requests_expect_a_throttle(tmp_path: Path) -> None:
    names = [
        "[burst] GET /api/v1/auth/me",
        "[burst] GET /api/v1/auth/me (throttled)",
        "[auth] POST /api/v1/auth/token (throttled)",  # a log-in that waited a 429 out
    ]
    path = tmp_path / "stats.json"
    path.write_text(json.dumps([{**ENTRY, "name": name} for name in names]))
    endpoints = read_stats(path).endpoints
    assert [(e.expects_throttle, e.throttled) for e in endpoints] == [
        (True, False),
        (True, True),
        (False, True),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "stats.json: No such file or directory: Locust wrote no statistics"),
        ("{", "stats.json: not JSON"),
        ("{}", "stats.json: expected a list of request statistics"),
        (json.dumps([{"name": "x"}]), "stats.json: an entry is not Locust's request statistics"),
    ],
)
def test_statistics_that_are_not_locusts_are_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "stats.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        read_stats(path)


def test_the_history_keeps_the_aggregated_seconds(tmp_path: Path) -> None:
    header = (
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
        "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
        "Total Average Content Size"
    )
    rows = [
        "1000,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0",
        "1001,5,GET,[health] GET /health,2.0,0.0,5,5,5,5,5,5,5,5,5,5,5,2,0,5,5.0,5,5,10",
        "1001,5,,Aggregated,4.5,0.5,6,7,8,9,10,12,13,14,15,15,15,9,1,6,7.0,1,15,20",
        "1002,5,,Aggregated,4.",  # being written
    ]
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    seconds_read = read_history(path)
    assert [(s.at, s.users, s.requests_per_second, s.p95_ms) for s in seconds_read] == [
        (1000, 0, 0.0, None),
        (1001, 5, 4.5, 12.0),
    ]
