"""Stages side by side in lanes: they overlap, the console reads in the plan's order, a stage that
breaks is shown in its turn and the others still run."""

from __future__ import annotations

import threading

import pytest

from golive.stages.lanes import Console, Stage, run_in_lanes
from golive.stages.outcome import Outcome


def outcome(name: str) -> Outcome:
    return Outcome(name, "done", 0.0, True)


def test_one_lane_runs_in_order_and_shows_progress_at_once() -> None:
    shown: list[str] = []

    def stage(name: str) -> Stage:
        def run(console: Console) -> None:
            console.progress(shown.append)(f"{name} working")
            console.outcome(outcome(name))

        return Stage(name, run)

    run_in_lanes(
        [stage("a"), stage("b")], lambda o: shown.append(o.name), lambda n, e: shown.append(f"x {n}")
    )
    assert shown == ["a working", "a", "b working", "b"]


def test_lanes_overlap_and_the_console_keeps_the_plan_order() -> None:
    second_ran = threading.Event()
    shown: list[str] = []
    progress: list[str] = []

    def first(console: Console) -> None:
        # Only another lane can set this while the first stage runs: proof that they overlap.
        assert second_ran.wait(10), "the second lane did not run beside the first"
        console.progress(progress.append)("not shown: its time would be stale")
        console.outcome(outcome("first"))

    def second(console: Console) -> None:
        console.outcome(outcome("second"))
        second_ran.set()

    def third(console: Console) -> None:
        console.outcome(outcome("third"))

    stages = [Stage("first", first, lane=0), Stage("second", second, lane=1), Stage("third", third, lane=0)]
    run_in_lanes(stages, lambda o: shown.append(o.name), lambda n, e: shown.append(f"broke {n}: {e}"))
    assert shown == ["first", "second", "third"]
    assert progress == []


def test_a_stage_that_breaks_is_shown_in_its_turn_and_the_rest_run() -> None:
    shown: list[str] = []

    def breaks(console: Console) -> None:
        raise RuntimeError("no database")

    def fine(name: str) -> Stage:
        return Stage(name, lambda console: console.outcome(outcome(name)), lane=1)

    stages = [fine("before"), Stage("drills", breaks, lane=0), fine("after")]
    run_in_lanes(stages, lambda o: shown.append(o.name), lambda n, e: shown.append(f"broke {n}: {e}"))
    assert shown == ["before", "broke drills: no database", "after"]


def test_once_interrupted_no_lane_starts_another_stage() -> None:
    interrupted = threading.Event()
    ran: list[str] = []

    def breaks(console: Console) -> None:
        raise RuntimeError("broken")

    def slow(console: Console) -> None:
        assert interrupted.wait(10), "the test never interrupted"
        ran.append("slow")

    def later(console: Console) -> None:
        ran.append("later")

    def interrupt(name: str, error: Exception) -> None:
        raise KeyboardInterrupt  # as broke_off does with GOLIVE_DEBUG, or as Ctrl-C arrives

    stages = [Stage("breaks", breaks, lane=0), Stage("slow", slow, lane=1), Stage("later", later, lane=1)]
    with pytest.raises(KeyboardInterrupt):
        run_in_lanes(stages, lambda o: None, interrupt)
    interrupted.set()
    for thread in threading.enumerate():
        if thread.name == "golive-lane-1":
            thread.join(10)
    assert ran == ["slow"]
