"""Stages side by side in lanes: they overlap, a free lane takes the longest stage waiting, the
console reads in the plan's order, a stage that breaks is shown in its turn and the others still run."""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable

import pytest

from golive.stages.lanes import Console, Stage, run_in_lanes
from golive.stages.outcome import Outcome


def outcome(name: str) -> Outcome:
    return Outcome(name, "done", 0.0, True)


def show(shown: list[str]) -> Callable[[Outcome], None]:
    return lambda outcome: shown.append(outcome.name)


def broke(shown: list[str]) -> Callable[[str, Exception], None]:
    return lambda name, error: shown.append(f"broke {name}: {error}")


def test_one_lane_runs_in_order_and_shows_progress_at_once() -> None:
    shown: list[str] = []

    def stage(name: str) -> Stage:
        def run(console: Console, lane: int) -> None:
            assert lane == 0
            console.progress(shown.append)(f"{name} working")
            console.outcome(outcome(name))

        return Stage(name, run)

    run_in_lanes([stage("a"), stage("b")], show(shown), broke(shown))
    assert shown == ["a working", "a", "b working", "b"]


def test_lanes_overlap_and_the_console_keeps_the_plan_order() -> None:
    second_ran = threading.Event()
    shown: list[str] = []
    progress: list[str] = []

    def first(console: Console, lane: int) -> None:
        # Only another lane can set this while the first stage runs: proof that they overlap.
        assert second_ran.wait(10), "the second lane did not run beside the first"
        console.progress(progress.append)("not shown: its time would be stale")
        console.outcome(outcome("first"))

    def second(console: Console, lane: int) -> None:
        console.outcome(outcome("second"))
        second_ran.set()

    def third(console: Console, lane: int) -> None:
        console.outcome(outcome("third"))

    stages = [Stage("first", first), Stage("second", second), Stage("third", third)]
    run_in_lanes(stages, show(shown), broke(shown), lanes=2)
    assert shown == ["first", "second", "third"]
    assert progress == []


def test_a_stage_that_breaks_is_shown_in_its_turn_and_the_rest_run() -> None:
    shown: list[str] = []

    def breaks(console: Console, lane: int) -> None:
        raise RuntimeError("no database")

    def fine(name: str) -> Stage:
        return Stage(name, lambda console, lane: console.outcome(outcome(name)))

    stages = [fine("before"), Stage("drills", breaks, seconds=10), fine("after")]
    run_in_lanes(stages, show(shown), broke(shown), lanes=2)
    assert shown == ["before", "broke drills: no database", "after"]


def test_once_interrupted_no_lane_starts_another_stage() -> None:
    """Ctrl-C reaches the main thread while both lanes are busy: the stages under way end, and no
    lane starts the one still waiting."""
    interrupted = threading.Event()
    both_started = threading.Barrier(2)
    ran: list[str] = []

    def busy(name: str, interrupts: bool) -> Stage:
        def run(console: Console, lane: int) -> None:
            both_started.wait(10)
            if interrupts:
                _thread.interrupt_main()  # as Ctrl-C arrives: a KeyboardInterrupt on the main thread
            assert interrupted.wait(10), "the test never saw the interruption"
            ran.append(name)

        return Stage(name, run, seconds=2)

    def later(console: Console, lane: int) -> None:
        ran.append("later")

    stages = [busy("first", True), busy("second", False), Stage("later", later, seconds=1)]
    with pytest.raises(KeyboardInterrupt):
        run_in_lanes(stages, lambda o: None, lambda n, e: None, lanes=2)
    interrupted.set()
    for thread in threading.enumerate():
        if thread.name.startswith("golive-lane-"):
            thread.join(10)
    assert sorted(ran) == ["first", "second"]


def test_a_free_lane_takes_the_longest_stage_waiting_and_the_console_keeps_the_plan_order() -> None:
    """Two lanes, stages expected to take 1, 5, 3 and 4 s (plan order a, b, c, d): the lanes start
    b and d; the first lane free takes c, the longest left, then a. Each stage here waits for the
    one that should start before it, so the order of starts is the one observed."""
    started: list[str] = []
    lock = threading.Lock()
    shown: list[str] = []
    order = ["b", "d", "c", "a"]
    turn = {name: threading.Event() for name in order}
    turn["b"].set()

    def stage(name: str, seconds: float) -> Stage:
        def run(console: Console, lane: int) -> None:
            assert turn[name].wait(10), f"{name} started out of turn: {started}"
            with lock:
                started.append(name)
                following = order.index(name) + 1
                if following < len(order):
                    turn[order[following]].set()
            console.outcome(outcome(name))

        return Stage(name, run, seconds)

    stages = [stage("a", 1), stage("b", 5), stage("c", 3), stage("d", 4)]
    run_in_lanes(stages, show(shown), broke(shown), lanes=2)
    assert started == order
    assert shown == ["a", "b", "c", "d"]
