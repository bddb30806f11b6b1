"""The journal of a real run, read as a Chaos Toolkit user reads one: status, deviated, the steady
states before and after, one result per step and per rollback; golive's own keys beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from golive.chaos.experiment import load
from golive.chaos.runner import Runner
from golive.chaos.targets import dedicated_target
from golive.fixtures.stack import Stack

STEADY = """
  - name: alive
    request: {path: /health}
"""

FAILS_AT_ONE_STEP = f"""
title: a step that cannot run
steady_state:{STEADY}
method:
  - wait_seconds: 0
  - fault: {{proxy: no-such-proxy, type: latency}}
"""

NEVER_STEADY = """
title: the steady state does not hold
steady_state:
  - name: alive
    request: {path: /health}
  - name: a teapot
    request: {path: /health}
    expect: {status: 418}
  - name: never probed
    request: {path: /health}
method:
  - wait_seconds: 0
"""

DEVIATES = f"""
title: an expectation no backend meets
steady_state:{STEADY}
method:
  - traffic:
      request: {{path: /health}}
      count: 2
expectations:
  max_latency_ms: 0.000001
"""


def journal_of(stack: Stack, tmp_path: Path, name: str, body: str | None = None) -> dict[str, Any]:
    path = Path("chaos/experiments/redis-down.yaml")
    if body is not None:
        path = tmp_path / f"{name}.yaml"
        path.write_text(body)
    experiment = load(path)
    with dedicated_target(stack, experiment) as target:
        journal = Runner(experiment, target, seed=1).run()
    journal.write(tmp_path / "journal.json")
    document: dict[str, Any] = json.loads((tmp_path / "journal.json").read_text())
    return document


def test_an_experiment_that_held_is_completed_and_not_deviated(golive_stack: Stack, tmp_path: Path) -> None:
    journal = journal_of(golive_stack, tmp_path, "redis-down")
    assert (journal["outcome"], journal["status"], journal["deviated"]) == ("held", "completed", False)
    before, after = journal["steady_states"]["before"], journal["steady_states"]["after"]
    assert before["steady_state_met"] is True
    assert after["steady_state_met"] is True
    assert journal["steady_states"]["during"] == []
    probe = before["probes"][0]
    assert probe["activity"]["type"] == "probe"
    assert probe["activity"]["name"] == "an authenticated request is served"
    assert (probe["status"], probe["tolerance_met"], probe["output"]["status"]) == ("succeeded", True, 200)
    # One result per step of the method, in order, each timed.
    assert [result["activity"]["name"] for result in journal["run"]] == [
        "fault",
        "traffic",
        "wait_for",
        "traffic",
        "remove_faults",
        "wait_seconds",
        "traffic",
        "wait_for",
    ]
    assert journal["run"][0]["activity"]["fault"]["proxy"] == "redis"
    assert all(result["status"] == "succeeded" for result in journal["run"])
    assert all(result["start"] <= result["end"] for result in journal["run"])
    assert [result["activity"]["name"] for result in journal["rollbacks"]] == ["reset"]
    assert journal["duration"] == journal["duration_seconds"] > 0
    assert journal["start"] < journal["end"]
    # What golive's report reads is still there.
    assert {"experiment", "outcome", "events", "checks", "figures", "requests"} <= set(journal)


def test_a_step_that_cannot_run_aborts_the_run_and_says_which(golive_stack: Stack, tmp_path: Path) -> None:
    journal = journal_of(golive_stack, tmp_path, "broken", FAILS_AT_ONE_STEP)
    assert (journal["outcome"], journal["status"], journal["deviated"]) == ("error", "aborted", False)
    assert [(r["activity"]["name"], r["status"]) for r in journal["run"]] == [
        ("wait_seconds", "succeeded"),
        ("fault", "failed"),
    ]
    assert "no-such-proxy" in journal["run"][1]["exception"][0]
    assert journal["rollbacks"][0]["status"] == "succeeded"  # the faults are removed all the same


def test_a_steady_state_not_met_fails_before_anything_runs(golive_stack: Stack, tmp_path: Path) -> None:
    journal = journal_of(golive_stack, tmp_path, "unsteady", NEVER_STEADY)
    assert (journal["status"], journal["deviated"]) == ("failed", False)
    before = journal["steady_states"]["before"]
    assert before["steady_state_met"] is False
    # As Chaos Toolkit's hypothesis: probed in order, up to the first that failed.
    assert [(p["activity"]["name"], p["tolerance_met"]) for p in before["probes"]] == [
        ("alive", True),
        ("a teapot", False),
    ]
    assert journal["steady_states"]["after"] is None
    assert journal["run"] == []


def test_an_expectation_that_did_not_hold_is_a_deviation(golive_stack: Stack, tmp_path: Path) -> None:
    journal = journal_of(golive_stack, tmp_path, "deviates", DEVIATES)
    assert (journal["outcome"], journal["status"], journal["deviated"]) == ("deviated", "failed", True)
    assert journal["steady_states"]["after"]["steady_state_met"] is True  # the backend is fine
    assert [
        check["ok"] for check in journal["checks"] if check["name"].startswith("every answer within")
    ] == [False]
