"""The chaos stage: experiments of the library against a target (golive's stack: each against a
backend of its own; or a deployment through its Toxiproxy), a JSON journal per run in
<run dir>/chaos/. An experiment the target cannot run is journaled as n/a with its reason, and
said so: never counted as held."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from golive.chaos.experiment import Experiment
from golive.chaos.journal import Journal
from golive.chaos.runner import Runner
from golive.chaos.targets import ExperimentTarget, TargetError
from golive.stages.outcome import Report, timed


def run_experiment(
    experiment: Experiment, target: ExperimentTarget, run_dir: Path, seed: int | None, attempt: int
) -> Journal:
    """One run, journaled: held, deviated, error (also when the target could not be made ready
    for it or put back after it), or n/a with the reason the target gives."""
    reason = target.not_applicable(experiment)
    journal: Journal | None = None
    if reason is not None:
        journal = Journal(
            experiment=experiment.name,
            title=experiment.title,
            seed=None,
            outcome="n/a",
            not_applicable=reason,
        )
    else:
        try:
            with target.prepared(experiment) as prepared:
                journal = Runner(experiment, prepared, seed).run()
        except TargetError as error:
            journal = journal or Journal(experiment=experiment.name, title=experiment.title, seed=seed)
            journal.outcome = "error"
            journal.event("error", error=str(error))
    journal.write(run_dir / "chaos" / f"{experiment.name}-{attempt}.json")
    return journal


def run_chaos(
    chosen: Iterable[Experiment],
    target: ExperimentTarget,
    run_dir: Path,
    report: Report,
    seed: int | None = None,
) -> bool:
    """Each experiment once, one outcome per experiment; True when every one that could run held."""
    ok = True
    for experiment in chosen:
        with timed(f"chaos {experiment.name}", report) as stage:
            journal = run_experiment(experiment, target, run_dir, seed, attempt=1)
            failed = [check for check in journal.checks if not check.ok]
            if journal.not_applicable is not None:
                stage["not_applicable"] = True
                stage["detail"] = f"n/a: {journal.not_applicable}"
            else:
                stage["ok"] = journal.held
                stage["detail"] = journal.outcome + (
                    f"; {failed[0].name}: {failed[0].detail}" if failed else ""
                )
        ok = ok and (journal.held or journal.not_applicable is not None)
    return ok
