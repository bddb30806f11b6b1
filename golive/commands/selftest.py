"""`golive selftest`: the validation run against known defects of the reference backend
(golive/stages/selftest.py); one line per validation as it ends, then the table of what was caught."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from golive.commands.common import RunDirOption, run_dir_for
from golive.core.console import err, fail
from golive.core.signals import interruptible
from golive.stages.selftest import (
    DEFAULT_CATALOGUE,
    DEFAULT_TIMEOUT,
    CatalogueError,
    Outcome,
    catalogue,
    run_selftest,
    select,
)


def selftest(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME",
            help="defects to run, by file name or number (default: all)",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="each validation with --quick")] = False,
    focused: Annotated[
        bool,
        typer.Option(
            "--focused",
            help="each defect's validation only of its gate (validate --gate): the same tests and "
            "stages for that gate, in a fraction of the time; the baseline is still the whole one",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=10, help="seconds per validation (default 600 quick, 1200 full)"),
    ] = None,
    mutants: Annotated[
        Path, typer.Option("--catalogue", help="the folder of defect patches", file_okay=False)
    ] = DEFAULT_CATALOGUE,
    run_dir: RunDirOption = None,
) -> None:
    """How much `golive validate` catches: the unpatched backend must say GO, then each defect of
    the catalogue (tests/mutants/*.patch, applied to a scratch copy of golive) must be NO-GO with
    its gate failed. Exit 0 only if all are."""
    try:
        defects = select(catalogue(mutants), names or [])
    except CatalogueError as error:
        raise fail("selftest", str(error), 2) from None
    run = run_dir_for("selftest", run_dir, once=True)
    limit = timeout if timeout is not None else DEFAULT_TIMEOUT[quick]
    err.print(f"{len(defects)} defect(s) and the baseline, one validation each; artifacts: {run.path}")
    outcomes: list[Outcome] = []
    interrupted = False
    with interruptible():
        try:
            run_selftest(
                defects, run.path, quick, limit, lambda outcome: _progress(outcome, outcomes), focused=focused
            )
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: the validation under way was stopped")
            interrupted = True
    caught = sum(outcome.ok for outcome in outcomes[1:])
    Console(highlight=False).print(_table(outcomes))
    exit_code = 130 if interrupted else 0 if outcomes and all(o.ok for o in outcomes) else 1
    run.finish(exit_code, caught=caught, defects=len(defects), outcomes=[asdict(o) for o in outcomes])
    baseline = outcomes[0].verdict if outcomes else None
    err.print(f"caught {caught}/{len(defects)}; baseline {baseline or 'did not run'}")
    raise typer.Exit(exit_code)


def _progress(outcome: Outcome, outcomes: list[Outcome]) -> None:
    outcomes.append(outcome)
    mark = "[green]ok[/]" if outcome.ok else "[red]x[/]"
    said = outcome.error or f"{outcome.verdict}; failed: {', '.join(outcome.failed) or '-'}"
    err.print(f"{mark} {escape(outcome.name):<44} {outcome.seconds:7.1f} s  {escape(said)}", soft_wrap=True)


def _table(outcomes: list[Outcome]) -> Table:
    table = Table("defect", "expected gate", "verdict", "gates failed", "seconds", "", box=None)
    for outcome in outcomes:
        if outcome.gate is None:
            result = "[green]GO[/]" if outcome.ok else "[red]NOT GO[/]"
        elif outcome.verdict is None:
            result = "[red]error[/]"
        else:
            result = "[green]caught[/]" if outcome.ok else "[red]escaped[/]"
        verdict = outcome.verdict or escape(outcome.error or "-")
        table.add_row(
            escape(outcome.name),
            outcome.gate or "-",
            verdict,
            ", ".join(outcome.failed) or "-",
            f"{outcome.seconds:.0f}",
            result,
        )
    return table
