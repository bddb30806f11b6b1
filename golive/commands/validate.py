"""`golive validate`: the go-live validation, one line per stage, then the gates and the verdict."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape

from golive.chaos.experiment import ExperimentError
from golive.commands.common import (
    BaselineOption,
    ProviderOption,
    ReplicasOption,
    RunDirOption,
    baseline_named,
    deployment,
    load_progress,
    preflight,
    print_report,
    print_stage,
    progress_printer,
    provider_named,
    run_dir_for,
    since,
    start_stack,
)
from golive.core.console import err, fail
from golive.core.redaction import redact
from golive.core.signals import interruptible, shielded
from golive.fixtures.stack import Stack, functional_headroom
from golive.reports.build import build_report
from golive.reports.summary import EXIT_CODES
from golive.stages.chaos import select_experiments
from golive.stages.health import unreachable
from golive.stages.outcome import Outcome
from golive.stages.validation import Plan, Printers, run_stages


def validate(
    provider: ProviderOption = "local",
    replicas: ReplicasOption = 1,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="validate an existing deployment at this URL instead of starting a stack "
            "(credentials: $GOLIVE_{ADMIN,USER}_{USERNAME,PASSWORD})",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="a few minutes: the smoke load profile, the fast chaos subset")
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of the fault proxy's dice")] = None,
    baseline: BaselineOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """The go-live validation: the stack (or --target), the guide's health checks, the suites, the
    migration and rollback drills, a chaos subset and a load profile (each endpoint's latency
    compared with the --baseline run's, when given); then the report (report.html, summary.json,
    summary.md, junit.xml) and the verdict. Exit 0 on GO, 1 on NO-GO, 3 when INCOMPLETE."""
    plan = Plan.for_mode(quick)
    reference = baseline_named("validate", baseline)
    described = deployment("validate", target) if target is not None else None
    chosen = provider_named("validate", provider) if described is None else None
    library = []
    if described is None:
        try:
            library = select_experiments([], plan.chaos_tag)
        except ExperimentError as error:
            raise fail("validate", str(error), 2) from None
        preflight("validate", functional_headroom(os.environ), library)
    run = run_dir_for("validate", run_dir)
    run.record("validate", {"mode": plan.mode})
    stack: Stack | None = None
    outcomes: list[Outcome] = []
    interrupted = False

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        print_stage(outcome.name, outcome.detail, outcome.seconds, outcome.ok)

    printers = Printers(progress_printer, load_progress, _broke_off)
    with interruptible():
        try:
            started = time.perf_counter()
            if described is not None:
                problem = unreachable(described.sut)
                report(Outcome("target", problem or described.sut, since(started), problem is None))
                if problem is not None:
                    run.finish(1, outcome=f"target {described.sut}: {problem}")
                    raise fail("validate", f"--target {described.sut}: {problem}")
                described.run_dir = str(run.path)
                described.write(run.path / "stack.json")
            else:
                assert chosen is not None
                stack = start_stack("validate", chosen, replicas, run, env=functional_headroom(os.environ))
                report(Outcome("stack", f"{provider}, {replicas} replica(s)", since(started), True))
            run_stages(plan, run.path, stack, described, library, report, printers, seed, reference)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping; the report will say what ran")
            interrupted = True
        finally:
            if stack is not None:
                with shielded():
                    stack.close()
    stages = [asdict(outcome) for outcome in outcomes]
    _recorded(lambda: run.record("validate", {"interrupted": interrupted, "stages": stages}))
    with shielded():
        built = build_report(run.path)
    exit_code = 130 if interrupted else EXIT_CODES[built.summary.verdict]
    _recorded(lambda: run.finish(exit_code, verdict=built.summary.verdict))
    print_report(built)
    raise typer.Exit(exit_code)


def _broke_off(name: str, error: Exception) -> None:
    if os.environ.get("GOLIVE_DEBUG"):
        raise error
    err.print(
        f"  [red]x[/] {name} broke off: {escape(redact(f'{type(error).__name__}: {error}'))}",
        soft_wrap=True,
    )


def _recorded(write: Callable[[], None]) -> None:
    """run.json not updated (a full disk) must not keep the verdict from the console."""
    try:
        write()
    except OSError as error:
        err.print(f"[yellow]run.json not updated[/]: {escape(error.strerror or str(error))}", soft_wrap=True)
