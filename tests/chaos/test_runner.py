"""The runner against the session stack: rollbacks always run, broken experiments say why,
requests go to the replica their step names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from golive.chaos.experiment import load
from golive.chaos.runner import Runner, UpstreamWitness
from golive.chaos.targets import dedicated_target
from golive.core import http_clients
from golive.core.chaos_evidence import RequestRecord
from golive.fixtures.stack import Stack
from golive.fixtures.upstream.behaviour import Stats
from golive.fixtures.upstream.control import UpstreamControl

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


TWO_REPLICAS = """
title: requests spread over two replicas, then aimed at one
replicas: 2
steady_state:
  - name: alive
    request: {path: /health}
method:
  - traffic:
      request: {path: /api/v1/auth/me, auth: user}
      count: 4
      expect: {admitted: 4}
  - traffic:
      request: {path: /api/v1/auth/me, auth: user}
      count: 3
      replica: 1
      expect: {admitted: 3, reached_upstream: 0}
  - wait_for: {breaker: ai-service, state: CLOSED, timeout_seconds: 5}
"""


def proxies_state(stack: Stack) -> dict[str, tuple[bool, int]]:
    assert stack.toxiproxy is not None
    proxies = http_clients.get(f"{stack.toxiproxy.url}/proxies", timeout=10).json()
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
    # The reason, where validate's stage line and the report read it: the probe and its answer.
    (check,) = journal.checks
    assert (check.name, check.ok) == ("the steady state held before the faults", False)
    assert re.fullmatch(r"probe 'impossible': 200 in \d+ ms on replica 0 \(expected 418\)", check.detail)


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


def test_requests_go_to_the_replica_their_step_names_and_every_replica_is_watched(
    golive_stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_REPLICAS)
    experiment = load(path)
    with dedicated_target(golive_stack, experiment) as target:
        assert len(target.sut_urls) == 2
        journal = Runner(experiment, target).run()
        # The same experiment against one replica of it: refused, not run half-way.
        short = Runner(experiment, dataclasses.replace(target, sut_urls=target.sut_urls[:1])).run()
    assert journal.outcome == "held", [check for check in journal.checks if not check.ok]
    assert journal.replicas == 2
    method = [record for record in journal.requests if record.phase == "method"]
    assert [(record.step, record.replica) for record in method] == [(0, 0), (0, 1), (0, 0), (0, 1)] + [
        (1, 1)
    ] * 3
    assert all(record.reached_upstream is False for record in method)  # /auth/me never calls the AI service
    before = journal.steady_states.before
    assert before is not None
    probed = [(probe.activity["replica"], probe.tolerance_met) for probe in before.probes]
    assert probed == [(0, True), (1, True)]
    watched = {event.detail["replica"] for event in journal.events if event.kind == "breaker"}
    assert watched == {0, 1}
    assert [event.detail["replicas"] for event in journal.events if event.kind == "waited"] == [[0, 1]]
    assert {check.name for check in journal.checks} >= {
        "step 0 across the replicas: exactly 4 admitted",
        "step 1 on replica 1: 0 requests reached the AI service",
    }
    assert short.outcome == "error"
    assert any("needs 2 replicas, the target has 1" in str(event.detail) for event in short.events)


class ScriptedStandIn(UpstreamControl):
    """The stand-in's stats as a test scripts them, one answer per look."""

    def __init__(self, *answers: Stats) -> None:
        super().__init__("http://127.0.0.1:9")
        self.answers = list(answers)

    def stats(self) -> Stats:
        return self.answers.pop(0)


def sent(request_id: str | None) -> RequestRecord:
    return RequestRecord(
        at=1.0,
        phase="method",
        method="POST",
        path="/x",
        status=200 if request_id else 0,
        latency_ms=1.0,
        error_code=None,
        request_id=request_id,
        problems=[],
    )


def test_the_stand_in_tells_which_requests_reached_it() -> None:
    witness = UpstreamWitness(ScriptedStandIn(Stats(calls=7), Stats(calls=9, request_ids=["old", "a", "b"])))
    records = [sent("a"), sent("c"), sent(None)]
    witness.mark(records)
    assert [record.reached_upstream for record in records] == [True, False, None]  # no answer: not known


def test_past_what_the_stand_in_remembers_only_what_it_lists_is_known() -> None:
    # Three calls since the last look, two ids remembered (or a reset in between: fewer calls).
    for after in (Stats(calls=10, request_ids=["a", "b"]), Stats(calls=2, request_ids=["a", "b"])):
        witness = UpstreamWitness(ScriptedStandIn(Stats(calls=7), after))
        records = [sent("a"), sent("c")]
        witness.mark(records)
        assert [record.reached_upstream for record in records] == [True, None]
