"""Stages side by side: the lanes run at once, each on a stack of its own (so no stage's faults or
settings reach another lane's), one stage at a time; a lane that finishes a stage takes the longest
one not yet started (by the stage's expected seconds), so the lanes end close together whatever
the machine's speed. The console still reads in the plan's order, one stage after another, as if
they had run one by one.

A stage says what it did through its own `Console`; a stage that runs beside others has its
outcomes kept until every stage before it in the plan has been shown, and shows no progress lines
(their times would be read long after they were true). A stage that raises is shown as broken off
in its turn, and the lanes go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from golive.stages.outcome import Outcome, Report

Show = Callable[[], None]  # a line for the console, when its turn comes


@dataclass
class Console:
    """What one stage says, shown at once (alone) or kept for its turn (beside others)."""

    report: Report
    kept: list[Show] | None = None  # None: alone, shown at once
    done: threading.Event = field(default_factory=threading.Event)

    def outcome(self, outcome: Outcome) -> None:
        if self.kept is None:
            self.report(outcome)
        else:
            self.kept.append(lambda: self.report(outcome))

    def progress(self, printer: Callable[[str], None]) -> Callable[[str], None]:
        return printer if self.kept is None else _silent


def _silent(_line: str) -> None:
    pass


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Console, int], object]  # given the lane (0 .. lanes-1) it runs in
    seconds: float = 0.0  # expected, to start the longest first (a wrong figure costs only time)


BrokeOff = Callable[[str, Exception], None]


def run_in_lanes(stages: Sequence[Stage], report: Report, broke_off: BrokeOff, lanes: int = 1) -> None:
    """Every stage, in `lanes` threads; returns when all have ended. One lane runs them in the
    plan's order. `broke_off` is called in the plan's order, on this thread (it may re-raise:
    GOLIVE_DEBUG)."""
    if lanes <= 1 or len(stages) <= 1:
        for stage in stages:
            try:
                stage.run(Console(report), 0)
            except Exception as error:
                broke_off(stage.name, error)
        return
    consoles = [Console(report, kept=[]) for _ in stages]
    errors: dict[int, Exception] = {}
    stopping = threading.Event()  # interrupted: no lane starts another stage
    # The longest first; a stable sort keeps ties in the plan's order.
    waiting = sorted(range(len(stages)), key=lambda index: -stages[index].seconds)
    taking = threading.Lock()

    def next_stage() -> int | None:
        with taking:
            return waiting.pop(0) if waiting and not stopping.is_set() else None

    def lane(number: int) -> None:
        while (index := next_stage()) is not None:
            try:
                stages[index].run(consoles[index], number)
            except Exception as error:
                errors[index] = error
            finally:
                consoles[index].done.set()

    try:
        for number in range(min(lanes, len(stages))):  # in the try: Ctrl-C may come between two starts
            threading.Thread(target=lane, args=(number,), name=f"golive-lane-{number}", daemon=True).start()
        for index, console in enumerate(consoles):
            # A timed wait: Ctrl-C reaches this thread between two waits.
            while not console.done.wait(0.2):
                pass
            for line in console.kept or ():
                line()
            if index in errors:
                broke_off(stages[index].name, errors[index])
    except BaseException:
        stopping.set()
        raise
