"""`golive chaos list|run`: the experiment library, and the nightly chaos run."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from golive.chaos.experiment import ExperimentError, library, load
from golive.chaos.journal import Journal
from golive.commands.common import (
    ProviderOption,
    RunDirOption,
    preflight,
    print_stage,
    provider_named,
    run_dir_for,
    start_stack,
)
from golive.core.console import err, fail
from golive.core.signals import interruptible, shielded
from golive.fixtures.stack import Stack, functional_headroom
from golive.stages.chaos import run_experiment, select_experiments

chaos_app = typer.Typer(help="Chaos experiments against the stack.", no_args_is_help=True)


@chaos_app.command("list")
def chaos_list() -> None:
    """The experiment library: name, tags, title."""
    try:
        loaded = [load(path) for path in library()]
    except ExperimentError as error:
        raise fail("chaos list", str(error), 2) from None
    for experiment in loaded:
        print(f"{experiment.name:<28} {','.join(experiment.tags):<8} {experiment.title}")


@chaos_app.command("run")
def chaos_run(
    experiments: Annotated[
        list[str] | None, typer.Argument(help="experiment names or YAML files (default: the whole library)")
    ] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=100, help="run each experiment N times")] = 1,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of the fault proxy's dice")] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="only experiments with this tag (e.g. fast)")
    ] = None,
    provider: ProviderOption = "local",
    run_dir: RunDirOption = None,
) -> None:
    """The nightly chaos run: every experiment against a fresh stack; a JSON journal per run."""
    chosen = provider_named("chaos run", provider)
    try:
        loaded = select_experiments(experiments or [], tag)
    except ExperimentError as error:
        raise fail("chaos run", str(error), 2) from None
    if not loaded:
        raise fail("chaos run", f"no experiment has the tag {tag!r}", 2)
    preflight("chaos run", functional_headroom(os.environ), loaded)
    run = run_dir_for("chaos", run_dir)
    journals: list[Journal] = []
    exit_code = 1
    stack: Stack | None = None
    with interruptible():
        try:
            started = time.perf_counter()
            stack = start_stack("chaos run", chosen, 1, run, env=functional_headroom(os.environ), seed=seed)
            print_stage("stack", f"{provider}, seed {seed}", time.perf_counter() - started, True)
            for attempt in range(1, repeat + 1):
                for experiment in loaded:
                    journal = run_experiment(experiment, stack, run.path, seed, attempt)
                    journals.append(journal)
                    print_stage(
                        experiment.name[:10], _chaos_summary(journal), journal.duration_seconds, journal.held
                    )
                    for check in journal.checks:
                        if not check.ok:
                            err.print(f"  [red]x[/] {check.name}: {check.detail}", soft_wrap=True)
            exit_code = 0 if journals and all(journal.held for journal in journals) else 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: faults removed, stopping the stack")
            exit_code = 130
        finally:
            if stack is not None:
                with shielded():
                    stack.close()
    held = sum(journal.held for journal in journals)
    run.finish(exit_code, experiments={journal.experiment: journal.outcome for journal in journals})
    verdict = "[bold green]HELD[/]" if exit_code == 0 else "[bold red]DEVIATED[/]"
    err.print(f"{verdict}: {held} of {len(journals)} runs held. Journals: {run.path / 'chaos'}")
    raise typer.Exit(exit_code)


def _chaos_summary(journal: Journal) -> str:
    failed = sum(not check.ok for check in journal.checks)
    recovery = journal.figures.get("recovery_seconds")
    parts = [journal.outcome, f"{len(journal.checks) - failed}/{len(journal.checks)} checks"]
    if journal.replicas > 1:
        parts.append(f"{journal.replicas} replicas")
    if recovery is not None:
        parts.append(f"recovered in {recovery:.2f} s")
    return ", ".join(parts)
