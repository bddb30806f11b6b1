"""`golive report`: the go-live report of a run directory, (re)built from what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from golive.commands.common import print_report
from golive.core.console import fail
from golive.reports.build import NotARunDirectory, build_report
from golive.reports.summary import EXIT_CODES


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="a run directory (reports/out/<run-id>)", show_default=False)
    ],
) -> None:
    """(Re)build the go-live report of a run directory from what it holds: report.html,
    summary.json, summary.md, junit.xml. Exit 0 on GO, 1 on NO-GO, 3 when INCOMPLETE."""
    try:
        built = build_report(run_dir)
    except NotARunDirectory as error:
        raise fail("report", str(error), 2) from None
    print_report(built)
    raise typer.Exit(EXIT_CODES[built.summary.verdict])
