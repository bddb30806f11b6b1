"""`golive chaos list|run`: the experiment library, and the nightly chaos run: against a fresh
stack, or against a deployment through the Toxiproxy in front of its dependencies."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from golive.chaos.experiment import ExperimentError, library, load, select_experiments
from golive.commands.common import (
    AppOption,
    BackendCmdOption,
    ImageOption,
    MigrateCmdOption,
    ProviderOption,
    ProvisionCmdOption,
    RunDirOption,
    ToxiproxyOption,
    deployment,
    deployment_chaos,
    preflight,
    print_stage,
    provider_named,
    run_dir_for,
    since,
    start_stack,
    use_backend,
)
from golive.core.console import err, fail
from golive.core.signals import interruptible, shielded

if TYPE_CHECKING:
    from golive.chaos.journal import Journal
    from golive.chaos.targets import ExperimentTarget
    from golive.fixtures.stack import Stack

chaos_app = typer.Typer(help="Chaos experiments against the stack or a deployment.", no_args_is_help=True)


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
    app: AppOption = None,
    backend_cmd: BackendCmdOption = None,
    image: ImageOption = None,
    migrate_cmd: MigrateCmdOption = None,
    provision_cmd: ProvisionCmdOption = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="run against an existing deployment at this URL, with --toxiproxy "
            "(credentials: $GOLIVE_{ADMIN,USER}_{USERNAME,PASSWORD})",
        ),
    ] = None,
    toxiproxy: ToxiproxyOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """The nightly chaos run: every experiment against a fresh stack (or a deployment: --target
    with its --toxiproxy); a JSON journal per run. Exit 0 when every experiment that ran held, 1
    when one did not, 3 when none could run against the deployment (each n/a, and why)."""
    described = deployment("chaos run", target) if target is not None else None
    if described is not None and toxiproxy is None:
        raise fail(
            "chaos run",
            "--target needs --toxiproxy: the faults go through the Toxiproxy in front of the "
            "deployment's dependencies (deploy/kubernetes/staging-chaos/)",
            2,
        )
    there = deployment_chaos("chaos run", described, toxiproxy, seed) if toxiproxy is not None else None
    use_backend("chaos run", app, target, backend_cmd, image, migrate_cmd, provision_cmd)
    chosen = provider_named("chaos run", provider) if there is None else None
    try:
        loaded = select_experiments(experiments or [], tag)
    except ExperimentError as error:
        raise fail("chaos run", str(error), 2) from None
    if not loaded:
        raise fail("chaos run", f"no experiment has the tag {tag!r}", 2)
    if described is not None:
        from golive.stages.health import unreachable

        problem = unreachable(described.sut)
        if problem is not None:
            raise fail("chaos run", f"--target {described.sut}: {problem}", 2)
    # Imported once the input is checked: a refused command does without the stack's code.
    from golive.chaos.targets import StackTarget
    from golive.fixtures.stack import functional_headroom
    from golive.stages.chaos import run_experiment

    if described is None:
        preflight("chaos run", functional_headroom(os.environ), loaded)
    run = run_dir_for("chaos", run_dir)
    journals: list[Journal] = []
    exit_code = 1
    stack: Stack | None = None
    with interruptible():
        try:
            started = time.perf_counter()
            site: ExperimentTarget
            if there is not None and described is not None:
                site = there
                described.run_dir = str(run.path)
                described.write(run.path / "stack.json")  # the report's: this run was a deployment's
                run.record("chaos", {"target": described.sut, "toxiproxy": there.toxiproxy})
                print_stage("target", f"{described.sut}, Toxiproxy {there.toxiproxy}", since(started), True)
            else:
                assert chosen is not None
                stack = start_stack(
                    "chaos run", chosen, 1, run, env=functional_headroom(os.environ), seed=seed
                )
                site = StackTarget(stack)
                print_stage("stack", f"{provider}, seed {seed}", time.perf_counter() - started, True)
            for attempt in range(1, repeat + 1):
                for experiment in loaded:
                    journal = run_experiment(experiment, site, run.path, seed, attempt)
                    journals.append(journal)
                    if journal.not_applicable is not None:
                        print_stage(experiment.name, f"n/a: {journal.not_applicable}", 0, False, True)
                        continue
                    print_stage(
                        experiment.name, _chaos_summary(journal), journal.duration_seconds, journal.held
                    )
                    for check in journal.checks:
                        if not check.ok:
                            err.print(f"  [red]x[/] {check.name}: {check.detail}", soft_wrap=True)
                    for event in journal.events:
                        if event.kind == "error":
                            err.print(f"  [red]x[/] {escape(str(event.detail.get('error')))}", soft_wrap=True)
            ran = [journal for journal in journals if journal.not_applicable is None]
            exit_code = 0 if ran and all(journal.held for journal in ran) else 1 if ran else 3
        except KeyboardInterrupt:
            err.print(
                "[yellow]interrupted[/]: faults removed, "
                + ("stopping the stack" if stack is not None else "the deployment's settings set back")
            )
            exit_code = 130
        finally:
            if stack is not None:
                with shielded():
                    stack.close()
    ran = [journal for journal in journals if journal.not_applicable is None]
    held = sum(journal.held for journal in ran)
    run.finish(exit_code, experiments={journal.experiment: journal.outcome for journal in journals})
    skipped = len(journals) - len(ran)
    na = f" ({skipped} n/a against this deployment)" if skipped else ""
    verdict = {0: "[bold green]HELD[/]", 3: "[bold yellow]NOT APPLICABLE[/]"}.get(
        exit_code, "[bold red]DEVIATED[/]"
    )
    err.print(f"{verdict}: {held} of {len(ran)} runs held{na}. Journals: {run.path / 'chaos'}")
    raise typer.Exit(exit_code)


def _chaos_summary(journal: Journal) -> str:
    failed = sum(not check.ok for check in journal.checks)
    recovery = journal.recovery_seconds
    parts = [journal.outcome, f"{len(journal.checks) - failed}/{len(journal.checks)} checks"]
    if journal.replicas > 1:
        parts.append(f"{journal.replicas} replicas")
    if recovery is not None:
        parts.append(f"recovered in {recovery:.2f} s")
    return ", ".join(parts)
