"""Stages side by side: each lane runs its stages in order, the lanes at once (each on a stack of
its own, so no stage's faults or settings reach another lane's), and the console still reads in
the plan's order, one stage after another, as if they had run one by one.

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
    run: Callable[[Console], object]
    lane: int = 0


BrokeOff = Callable[[str, Exception], None]


def run_in_lanes(stages: Sequence[Stage], report: Report, broke_off: BrokeOff) -> None:
    """Every stage, each lane in a thread of its own; returns when all have ended. `broke_off`
    is called in the plan's order, on this thread (it may re-raise: GOLIVE_DEBUG)."""
    lanes = sorted({stage.lane for stage in stages})
    if len(lanes) <= 1:
        for stage in stages:
            try:
                stage.run(Console(report))
            except Exception as error:
                broke_off(stage.name, error)
        return
    consoles = [Console(report, kept=[]) for _ in stages]
    errors: dict[int, Exception] = {}
    stopping = threading.Event()  # interrupted: no lane starts another stage

    def lane(number: int) -> None:
        for index, stage in enumerate(stages):
            if stage.lane != number or stopping.is_set():
                continue
            try:
                stage.run(consoles[index])
            except Exception as error:
                errors[index] = error
            finally:
                consoles[index].done.set()

    threads = [threading.Thread(target=lane, args=(n,), name=f"golive-lane-{n}", daemon=True) for n in lanes]
    for thread in threads:
        thread.start()
    try:
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
