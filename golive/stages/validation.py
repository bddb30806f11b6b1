"""`golive validate`'s stages in order, each against the stack (or a deployment) and writing its
evidence into the run directory, where the report reads it: the environment, the guide's health
checks, the suites, the migration, rollback, flags and backup drills, a chaos subset, a load profile.

Stages that cannot run against a deployment are not run there; the report marks their gates n/a.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from golive.chaos.experiment import Experiment
from golive.core.junit import API, CONTRACT, GUIDE, REALTIME, RESILIENCE, SECURITY, Suite
from golive.core.load_evidence import LoadRecord
from golive.drills.budgets import Budgets
from golive.drills.data import Sizes
from golive.drills.runner import select
from golive.fixtures.description import StackDescription
from golive.fixtures.stack import Stack
from golive.loadtests.results import Second
from golive.stages.chaos import run_chaos
from golive.stages.drills import run_drills
from golive.stages.environment import record_environment
from golive.stages.health import check_health
from golive.stages.load import run_load
from golive.stages.outcome import Report
from golive.stages.suites import run_suites

# Each has a gate of its own (reports/gates.py).
DRILLS = ("migration", "rollback", "flags", "backup")


@dataclass(frozen=True)
class Plan:
    """What a validation runs: --quick for a few minutes on a small machine, or the full one."""

    mode: str
    suites: tuple[Suite, ...]
    drills: tuple[str, ...]
    drill_sizes: Sizes
    chaos_tag: str | None  # None: the whole library
    load_profile: str

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                "quick",
                # The resilience suite too: its breaker, idempotency and limiter tests feed gates
                # nothing else proves, so without it a quick GO could not be had.
                (CONTRACT, API, REALTIME, GUIDE, RESILIENCE, SECURITY),
                DRILLS,
                Sizes(users=200, content=2_000, agent_metrics=20),
                "fast",
                "smoke",
            )
        return cls(
            "full", (CONTRACT, API, REALTIME, GUIDE, RESILIENCE, SECURITY), DRILLS,
            Sizes(), None, "baseline",
        )  # fmt: skip


@dataclass(frozen=True)
class Printers:
    """How the command shows what goes on inside a stage, and a stage that broke off."""

    drill_progress: Callable[[], Callable[[str], None]]
    load_progress: Callable[[Second], None]
    broke_off: Callable[[str, Exception], None]


def run_stages(
    plan: Plan,
    run_dir: Path,
    stack: Stack | None,
    described: StackDescription | None,
    experiments: Sequence[Experiment],
    report: Report,
    printers: Printers,
    seed: int | None,
    baseline: LoadRecord | None = None,
) -> None:
    """Every stage runs even when one before it failed or broke: the report shows them all.
    `broke_off` may re-raise (GOLIVE_DEBUG). The load run is compared with `baseline`, if given."""
    url = described.sut if described is not None else stack.sut.urls[0] if stack and stack.sut else ""
    stages: list[tuple[str, Callable[[], object]]] = [
        ("environment", lambda: record_environment(run_dir, stack, described)),
        ("health", lambda: check_health(url, run_dir, report)),
        ("suites", lambda: run_suites(plan.suites, run_dir / "stack.json", run_dir, report)),
    ]
    if stack is not None:
        sizes = plan.drill_sizes
        stages += [
            (
                "drills",
                lambda: run_drills(
                    select(list(plan.drills)),
                    stack,
                    run_dir,
                    sizes,
                    Budgets(),
                    report,
                    printers.drill_progress(),
                ),
            ),
            ("chaos", lambda: run_chaos(experiments, stack, run_dir, report, seed)),
        ]
    stages.append(
        (
            "load",
            lambda: run_load(
                plan.load_profile,
                run_dir,
                report,
                printers.load_progress,
                stack=stack,
                deployment=described,
                baseline=baseline,
            ),
        )
    )
    for name, stage in stages:
        try:
            stage()
        except Exception as error:
            printers.broke_off(name, error)
