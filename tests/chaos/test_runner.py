"""The runner against the session stack: rollbacks always run, broken experiments say why."""

from __future__ import annotations

from pathlib import Path

import httpx

from golive.chaos.experiment import load
from golive.chaos.runner import Runner
from golive.chaos.targets import dedicated_target
from golive.fixtures.stack import Stack

BROKEN = """
title: a fault, then a step that cannot run
steady_state:
  - name: alive
    request: {path: /health}
method:
  - fault: {proxy: upstream, type: latency, attributes: {latency: 5000}}
  - fault: {proxy: no-such-proxy, type: latency}
"""

UNSTEADY = """
title: the steady state does not hold, so nothing is injected
steady_state:
  - name: impossible
    request: {path: /health}
    expect: {status: 418}
method:
  - fault: {proxy: redis, type: down}
"""


def proxies_state(stack: Stack) -> dict[str, tuple[bool, int]]:
    assert stack.toxiproxy is not None
    proxies = httpx.get(f"{stack.toxiproxy.url}/proxies", timeout=10).json()
    return {name: (proxy["enabled"], len(proxy["toxics"])) for name, proxy in proxies.items()}


def test_a_broken_step_is_an_error_and_the_faults_are_still_removed(
    golive_stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    experiment = load(path)
    with dedicated_target(golive_stack, experiment) as target:
        journal = Runner(experiment, target).run()
    assert journal.outcome == "error"
    assert any("no-such-proxy" in str(event.detail) for event in journal.events if event.kind == "error")
    assert any(event.kind == "fault-added" for event in journal.events)
    assert all(state == (True, 0) for state in proxies_state(golive_stack).values())


def test_no_fault_is_injected_when_the_steady_state_does_not_hold(
    golive_stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "unsteady.yaml"
    path.write_text(UNSTEADY)
    experiment = load(path)
    with dedicated_target(golive_stack, experiment) as target:
        journal = Runner(experiment, target).run()
    assert journal.outcome == "steady-state-not-met"
    assert not any(event.kind == "fault-added" for event in journal.events)


def test_the_journal_is_json_with_the_whole_story(golive_stack: Stack, tmp_path: Path) -> None:
    import json

    experiment = load(Path("chaos/experiments/redis-down.yaml"))
    with dedicated_target(golive_stack, experiment) as target:
        journal = Runner(experiment, target, seed=1).run()
    journal.write(tmp_path / "journal.json")
    document = json.loads((tmp_path / "journal.json").read_text())
    assert document["outcome"] == "held", [check for check in document["checks"] if not check["ok"]]
    assert {"requests", "events", "checks", "figures", "duration_seconds", "seed"} <= set(document)
    kinds = {event["kind"] for event in document["events"]}
    assert {"step", "fault-added", "faults-removed", "breaker", "probe", "rolled-back"} <= kinds
    assert all(request["request_id"] for request in document["requests"] if request["status"])
