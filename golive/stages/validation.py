"""`golive validate`'s stages in order, each against the stack (or a deployment) and writing its
evidence into the run directory, where the report reads it: the environment, the guide's health
checks, the suites, the migration, rollback, flags and backup drills, a chaos subset, a load profile.

Stages that cannot run against a deployment are not run there (the drills; chaos too, unless the
deployment's dependencies go through a Toxiproxy golive is given); the report marks their gates n/a.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from golive.chaos.experiment import Experiment
from golive.chaos.targets import ExperimentTarget, StackTarget
from golive.core.junit import Suite
from golive.core.load_evidence import LoadRecord, TimelineSecond
from golive.drills.budgets import Budgets
from golive.drills.database import DrillDatabase
from golive.drills.runner import select
from golive.fixtures.description import StackDescription
from golive.fixtures.stack import Stack
from golive.reports.gates import CHAOS_STAGE, HEALTH_STAGE, LOAD_STAGE
from golive.stages.chaos import run_chaos
from golive.stages.drills import run_drills
from golive.stages.environment import record_environment
from golive.stages.health import check_health
from golive.stages.lanes import Console, Stage, run_in_lanes
from golive.stages.load import run_load
from golive.stages.outcome import Report
from golive.stages.plan import Plan
from golive.stages.suites import run_suites

# Seconds each took in a quick validation on a quiet 2-core machine, three lanes at once: the lanes
# start the longest first (a wrong figure makes the last lane end later, never changes a verdict).
SECONDS = {"security": 82.0, "resilience": 67.0, "chaos": 35.0, "api": 22.0, "realtime": 15.0,
           "drills": 15.0, "contract": 14.0, "guide": 1.5}  # fmt: skip


@dataclass(frozen=True)
class DrillPlace:
    """Where the drills run when not on the validated stack: in `database` (--database-url), one
    after another, with `stack` serving the backends some of them start (against a deployment)."""

    database: DrillDatabase | None = None
    stack: Stack | None = None


@dataclass(frozen=True)
class Printers:
    """How the command shows what goes on inside a stage, and a stage that broke off."""

    drill_progress: Callable[[], Callable[[str], None]]
    load_progress: Callable[[TimelineSecond], None]
    broke_off: Callable[[str, Exception], None]


def run_stages(
    plan: Plan,
    run_dir: Path,
    stacks: Sequence[Stack],
    described: StackDescription | None,
    experiments: Sequence[Experiment],
    report: Report,
    printers: Printers,
    seed: int | None,
    baseline: LoadRecord | None = None,
    deployment_chaos: ExperimentTarget | None = None,
    drill_place: DrillPlace = DrillPlace(),
) -> None:
    """Every stage runs even when one before it failed or broke: the report shows them all.
    `broke_off` may re-raise (GOLIVE_DEBUG). The load run is compared with `baseline`, if given.
    The experiments run on the stack, or on the deployment through `deployment_chaos` (its
    Toxiproxy); against a deployment without one, not at all. The drills run on the stack, or in
    `drill_place`'s database (against a deployment: only there).

    With more than one stack (the first is the one validated; the others are stacks like it, see
    `golive validate --lanes`), the suites, the drills and chaos run in lanes side by side, one
    lane per stack, so no lane's faults, breakers or settings reach another's. Chaos mostly waits
    (for breakers to open and half-open), so it shares the machine well; its latency bounds are
    set for a busy machine (chaos/experiments). The load run then runs alone: its latencies are
    compared with a baseline's, which stages beside it would disturb."""
    stack = stacks[0] if stacks else None
    url = described.sut if described is not None else stack.sut.urls[0] if stack and stack.sut else ""
    stack_files = [run_dir / "stack.json", *(other.run_dir / "stack.json" for other in stacks[1:])]
    drills = bool(plan.drills) and (stack is not None or drill_place.database is not None)
    chaos = plan.chaos and (stack is not None or deployment_chaos is not None)
    # Quick, and before anything could disturb the stack: what it is, and whether it is healthy.
    first = [Stage("environment", lambda console, lane: record_environment(run_dir, stack, described))]
    if plan.health:
        first.append(Stage(HEALTH_STAGE, lambda console, lane: check_health(url, run_dir, console.outcome)))
    run_in_lanes(first, report, printers.broke_off)
    beside = [
        Stage(suite.name, partial(_suite_stage, suite, stack_files, run_dir), SECONDS.get(suite.name, 10.0))
        for suite in plan.suites
    ]
    if drills:
        sizes = plan.drill_sizes
        beside.append(
            Stage(
                "drills",
                lambda console, lane: run_drills(
                    select(list(plan.drills)),
                    stacks[lane] if stack is not None else drill_place.stack,
                    run_dir,
                    sizes,
                    Budgets(),
                    console.outcome,
                    console.progress(printers.drill_progress()),
                    drill_place.database,
                ),
                SECONDS["drills"],
            )
        )
    if chaos:

        def chaos_stage(console: Console, lane: int) -> None:
            target = StackTarget(stacks[lane]) if stack is not None else deployment_chaos
            assert target is not None
            run_chaos(experiments, target, run_dir, console.outcome, seed)

        beside.append(Stage(CHAOS_STAGE, chaos_stage, SECONDS["chaos"]))
    run_in_lanes(beside, report, printers.broke_off, lanes=len(stack_files))
    if not plan.load:
        return
    load = Stage(
        LOAD_STAGE,
        lambda console, lane: run_load(
            plan.load_profile,
            run_dir,
            console.outcome,
            printers.load_progress,
            stack=stack,
            deployment=described,
            baseline=baseline,
        ),
    )
    run_in_lanes([load], report, printers.broke_off)


def _suite_stage(
    suite: Suite, stack_files: Sequence[Path], run_dir: Path, console: Console, lane: int
) -> bool:
    return run_suites([suite], stack_files[lane], run_dir, console.outcome)
