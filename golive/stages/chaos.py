"""The chaos stage: experiments of the library, each against a backend of its own on the stack,
a JSON journal per run in <run dir>/chaos/."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from golive.chaos.experiment import Experiment, load, resolve
from golive.chaos.journal import Journal
from golive.chaos.runner import Runner
from golive.chaos.targets import dedicated_target
from golive.fixtures.stack import Stack
from golive.stages.outcome import Report, timed


def select_experiments(names: Sequence[str], tag: str | None) -> list[Experiment]:
    """The experiments named (names or files; the whole library when none) that have `tag`
    (any when None); ExperimentError names the first that cannot be read."""
    loaded = [load(path) for path in resolve(list(names))]
    return [experiment for experiment in loaded if tag is None or tag in experiment.tags]


def run_experiment(
    experiment: Experiment, stack: Stack, run_dir: Path, seed: int | None, attempt: int
) -> Journal:
    with dedicated_target(stack, experiment) as target:
        journal = Runner(experiment, target, seed).run()
    journal.write(run_dir / "chaos" / f"{experiment.name}-{attempt}.json")
    return journal


def run_chaos(
    chosen: Iterable[Experiment], stack: Stack, run_dir: Path, report: Report, seed: int | None = None
) -> bool:
    """Each experiment once, one outcome per experiment."""
    ok = True
    for experiment in chosen:
        with timed(f"chaos {experiment.name}", report) as stage:
            journal = run_experiment(experiment, stack, run_dir, seed, attempt=1)
            failed = [check for check in journal.checks if not check.ok]
            stage["ok"] = journal.held
            stage["detail"] = journal.outcome + (f"; {failed[0].name}: {failed[0].detail}" if failed else "")
        ok = ok and journal.held
    return ok
