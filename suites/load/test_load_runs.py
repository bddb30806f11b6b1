"""`golive load` end to end: Locust in processes of its own against a real stack, its thresholds
enforced, its results and timeline written; distributed; under a chaos experiment; against a
deployment. (Locust is never imported here: it would patch this process.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from golive.core.load_evidence import LoadRecord, TimelineRecord
from golive.fixtures.description import StackDescription
from tests.harness.golive import run_golive
from tests.harness.leaks import assert_no_survivors, new_marker

pytestmark = pytest.mark.load


def golive_load(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_golive("load", *args, env=env)


def results(run_dir: Path) -> tuple[LoadRecord, TimelineRecord]:
    """Read by the types that wrote them, as the report reads them."""
    return LoadRecord.read(run_dir / "load" / "load.json"), TimelineRecord.read(
        run_dir / "load" / "timeline.json"
    )


def profiles(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(body)
    return path


def test_the_smoke_profile_passes_with_its_thresholds_enforced(tmp_path: Path) -> None:
    marker = new_marker()
    run = golive_load("--profile", "smoke", "--run-dir", str(tmp_path), env=marker)
    assert_no_survivors(marker)
    assert run.returncode == 0, run.stderr
    load, timeline = results(tmp_path)
    assert load.ok is True
    assert [t.ok for t in load.thresholds] == [True] * 10
    assert "http_reqs{name:[burst] GET /api/v1/auth/me (throttled)}: count > 0" in run.stderr
    assert set(load.groups) == {"admin", "auth", "burst", "content", "dashboard", "health", "realtime"}
    assert load.total.failures == 0
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "report.html"):
        assert (tmp_path / "load" / name).stat().st_size > 0
    assert len(timeline.seconds) >= 10
    assert timeline.seconds[-1].breakers["ai-service"] == "CLOSED"
    assert "THRESHOLDS" in run.stderr
    assert "REGRESSION n/a: no baseline given" in run.stderr
    assert "PASS: every threshold held" in run.stderr


DISTRIBUTED = """
merged:
  users: 6
  spawn_rate: 6
  run_time: 8s
  journeys: {health: 1, creator: 1}
  thresholds:
    http_req_failed: ["rate < 0.01"]
    http_reqs: ["count > 0"]
"""


@pytest.mark.heavy
def test_a_distributed_run_merges_its_workers_statistics(tmp_path: Path) -> None:
    path = profiles(tmp_path, DISTRIBUTED)
    run = golive_load(
        "--profiles", str(path), "--profile", "merged", "--workers", "2", "--run-dir", str(tmp_path)
    )
    assert run.returncode == 0, run.stderr
    load, _ = results(tmp_path)
    assert load.locust_workers == 2
    assert load.workers_reporting == ["worker 0", "worker 1"]
    assert load.total.requests == sum(endpoint.requests for endpoint in load.endpoints.values())
    assert "workers reporting: worker 0, worker 1" in run.stderr


def test_a_baseline_of_another_load_is_kept_and_named_not_compared(tmp_path: Path) -> None:
    """The recorded GO run of the smoke profile as the baseline of a smaller load: n/a, and why."""
    recorded = Path(__file__).resolve().parents[2] / "tests" / "reports" / "runs" / "go"
    path = profiles(tmp_path, DISTRIBUTED.replace("merged", "small").replace("8s", "5s"))
    run = golive_load(
        "--profiles", str(path), "--profile", "small", "--baseline", str(recorded), "--run-dir", str(tmp_path)
    )
    assert run.returncode == 0, run.stderr
    assert "REGRESSION n/a: the baseline run vq ran " in run.stderr
    assert LoadRecord.read(tmp_path / "load" / "baseline.json") == LoadRecord.read(
        recorded / "load" / "load.json"
    )


FAILING = """
impossible:
  users: 2
  spawn_rate: 2
  run_time: 4s
  journeys: {health: 1}
  thresholds:
    http_req_duration: ["p(95) < 0.001"]
    http_req_failed: ["rate < 0.01"]
"""


def test_a_failing_threshold_fails_the_run_and_is_named(tmp_path: Path) -> None:
    run = golive_load(
        "--profiles", str(profiles(tmp_path, FAILING)), "--profile", "impossible", "--run-dir", str(tmp_path)
    )
    assert run.returncode == 99, run.stderr
    assert "✗ http_req_duration: p(95) < 0.001" in run.stderr
    assert "✓ http_req_failed: rate < 0.01" in run.stderr
    load, _ = results(tmp_path)
    assert load.ok is False
    assert [(t.threshold, t.ok) for t in load.thresholds] == [
        ("http_req_duration: p(95) < 0.001", False),
        ("http_req_failed: rate < 0.01", True),
    ]
    recorded = json.loads((tmp_path / "run.json").read_text())["commands"]["load"]
    assert recorded["exit_code"] == 99


UNDER_FAULTS = """
under-faults:
  users: 6
  spawn_rate: 6
  run_time: 15s
  journeys: {health: 1, creator: 2}
  thresholds:
    http_reqs: ["count > 0"]
"""


@pytest.mark.heavy
def test_load_under_a_chaos_experiment_records_both_on_one_timeline(tmp_path: Path) -> None:
    path = profiles(tmp_path, UNDER_FAULTS)
    run = golive_load(
        "--profiles", str(path), "--profile", "under-faults", "--during", "ai-latency-trips-breaker",
        "--run-dir", str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "CHAOS ✓ ai-latency-trips-breaker: held" in run.stderr
    _, timeline = results(tmp_path)
    events = [{"kind": event.kind, **(event.model_extra or {})} for event in timeline.events]
    kinds = [event["kind"] for event in events]
    assert kinds.index("fault-added") < kinds.index("faults-removed")
    opened = [e for e in events if e["kind"] == "breaker" and e["state"] == "OPEN"]
    assert [e["breaker"] for e in opened] == ["ai-service"]
    assert any(second.breakers.get("ai-service") == "OPEN" for second in timeline.seconds)
    assert [e["outcome"] for e in events if e["kind"] == "experiment"] == ["held"]
    journal = json.loads((tmp_path / "load" / "chaos-ai-latency-trips-breaker.json").read_text())
    assert journal["outcome"] == "held"


def test_a_load_whose_experiment_did_not_hold_fails_naming_it(tmp_path: Path) -> None:
    """The thresholds hold, but the experiment beside the load never got to inject its faults:
    its steady state (here, an answer no backend gives) was not met."""
    shipped = Path(__file__).resolve().parents[2] / "chaos" / "experiments" / "ai-latency-trips-breaker.yaml"
    source, steady = shipped.read_text(), "expect: {status: 201, max_latency_ms: 2000}"
    assert steady in source
    experiment = tmp_path / "unmet.yaml"
    experiment.write_text(source.replace(steady, "expect: {status: 418}"))
    path = profiles(tmp_path, FAILING.replace('"p(95) < 0.001"', '"p(95) < 60000"'))
    run = golive_load(
        "--profiles", str(path), "--profile", "impossible", "--during", str(experiment),
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert run.returncode == 99, run.stderr
    assert "✓ http_req_duration: p(95) < 60000" in run.stderr
    assert "CHAOS ✗ unmet: steady-state-not-met" in run.stderr
    assert re.search(
        r"probe 'a generation succeeds quickly' \(steady-state-before\): answered 201 in \d+ ms on replica 0 "
        r"\(expected 418\)",
        run.stderr,
    ), run.stderr
    assert "FAIL: see the failures above" in run.stderr
    load, timeline = results(tmp_path / "run")
    assert load.ok is True  # its thresholds held: a baseline for a later run all the same
    ends = [event.model_extra or {} for event in timeline.events if event.kind == "experiment"]
    assert ends == [{"at": pytest.approx(ends[0]["at"]), "name": "unmet", "outcome": "steady-state-not-met"}]
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())["commands"]["load"]
    assert (recorded["exit_code"], recorded["load"]) == (99, {"profile": "impossible", "ok": False})


def test_against_a_deployment_it_uses_the_operators_accounts(
    golive_stack_description: StackDescription, tmp_path: Path
) -> None:
    user, admin = golive_stack_description.users["user"], golive_stack_description.users["admin"]
    env = {
        "GOLIVE_USER_USERNAME": user.username,
        "GOLIVE_USER_PASSWORD": user.password,
        "GOLIVE_ADMIN_USERNAME": admin.username,
        "GOLIVE_ADMIN_PASSWORD": admin.password,
    }
    path = profiles(tmp_path, DISTRIBUTED.replace("merged", "target").replace("8s", "5s"))
    run = golive_load(
        "--profiles", str(path), "--profile", "target", "--target", golive_stack_description.sut,
        "--run-dir", str(tmp_path), env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "stack.json").exists()  # no stack of its own
    accounts = json.loads((tmp_path / "load-accounts.json").read_text())
    assert accounts == {
        "users": [[user.username, user.password]],
        "admins": [[admin.username, admin.password]],
    }
    assert oct((tmp_path / "load-accounts.json").stat().st_mode & 0o777) == "0o600"


def test_ctrl_c_stops_locust_and_the_stack_and_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "load", "--profile", "smoke", "--run-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker},
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # bounded: golive prints this line within seconds, or ends
            if line.startswith("load smoke:"):
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert_no_survivors(marker)
    recorded = json.loads((tmp_path / "run.json").read_text())["commands"]["load"]
    assert recorded["exit_code"] == 130
