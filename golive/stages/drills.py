"""The drills stage: each drill run for real in a database of its own (or one after another in a
given one, e.g. on the deployment's server), its result written as drill-NAME.json into the run
directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from golive.drills.budgets import Budgets
from golive.drills.database import DrillDatabase
from golive.drills.result import DrillResult
from golive.drills.runner import Drill, DrillRun, stack_database
from golive.drills.sizes import Sizes
from golive.fixtures.stack import Stack
from golive.reports.gates import drill_stage
from golive.stages.outcome import Report, timed

Progress = Callable[[str], None]


def run_drill(
    drill: Drill,
    database: DrillDatabase,
    stack: Stack | None,
    run_dir: Path,
    sizes: Sizes,
    budgets: Budgets,
    progress: Progress,
) -> tuple[DrillResult, Path]:
    """The drill's result and where it was written."""
    work_dir = run_dir / "drills" / drill.name
    result = drill.run(DrillRun(database, stack, work_dir, sizes, budgets, progress=progress))
    return result, result.write_into(run_dir)


@contextmanager
def drill_database(
    name: str, given: DrillDatabase | None, stack: Stack | None, *, again: bool = False
) -> Iterator[DrillDatabase]:
    """Where a drill runs: the `given` database (emptied first when a drill ran there before:
    what is there, that drill put there), else a new one on the stack."""
    if given is not None:
        if again:
            given.ensure_empty(wipe=True)
        yield given
        return
    assert stack is not None
    with stack_database(stack, name) as database:
        yield database


def run_drills(
    drills: Iterable[Drill],
    stack: Stack | None,
    run_dir: Path,
    sizes: Sizes,
    budgets: Budgets,
    report: Report,
    progress: Progress,
    given: DrillDatabase | None = None,
) -> bool:
    """Each drill in a database of its own on the stack, or one after another in the `given` one;
    one outcome per drill. `stack` serves the drills that run a backend (None: no drill does)."""
    ok = True
    for index, drill in enumerate(drills):
        with (
            timed(drill_stage(drill.name), report) as stage,
            drill_database(drill.name, given, stack, again=index > 0) as database,
        ):
            result, _ = run_drill(drill, database, stack, run_dir, sizes, budgets, progress)
            checks = result.checks
            stage["ok"] = result.ok
            stage["detail"] = f"{sum(c.ok for c in checks)}/{len(checks)} checks" + (
                f"; {result.failures[0]}" if result.failures else ""
            )
        ok = ok and result.ok
    return ok
