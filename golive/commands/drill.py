"""`golive drill`: the migration and rollback drills, in a database of the local stack or a given one."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from golive.commands.common import (
    AppOption,
    BackendCmdOption,
    DatabaseUrlOption,
    ImageOption,
    MigrateCmdOption,
    ProviderOption,
    ProvisionCmdOption,
    RunDirOption,
    WipeDatabaseOption,
    given_database,
    preflight,
    print_outcome,
    print_stage,
    progress_printer,
    provider_named,
    run_dir_for,
    start_stack,
    use_backend,
)
from golive.core.console import err, fail
from golive.core.rundir import RunDir
from golive.core.signals import interruptible, shielded
from golive.drills.budgets import Budgets
from golive.drills.runner import DRILLS, UnknownDrill, select
from golive.drills.sizes import Sizes

if TYPE_CHECKING:
    from golive.drills.result import DrillResult
    from golive.fixtures.stack import Stack


def drill(
    names: Annotated[
        list[str], typer.Argument(metavar="NAME...", help=f"{', '.join(DRILLS)}, or all", show_default=False)
    ],
    database_url: DatabaseUrlOption = None,
    wipe_database: WipeDatabaseOption = False,
    users: Annotated[int, typer.Option("--users", min=2, help="legacy users to seed")] = Sizes.users,
    content: Annotated[int, typer.Option("--content", min=1, help="legacy content rows")] = Sizes.content,
    agent_metrics: Annotated[
        int, typer.Option("--agent-metrics", min=1, help="legacy agent_metrics rows")
    ] = Sizes.agent_metrics,
    max_lock_ms: Annotated[
        float,
        typer.Option(
            "--max-lock-ms", min=1, help="fail the migration drill on ACCESS EXCLUSIVE locks held longer"
        ),
    ] = Budgets.max_lock_ms,
    max_rewrite_rows: Annotated[
        int,
        typer.Option(
            "--max-rewrite-rows", min=0, help="fail the migration drill on rewrites of larger tables"
        ),
    ] = Budgets.max_rewrite_rows,
    max_index_build_rows: Annotated[
        int,
        typer.Option(
            "--max-index-build-rows",
            min=0,
            help="fail the migration drill on indexes built without CONCURRENTLY on larger tables",
        ),
    ] = Budgets.max_index_build_rows,
    provider: ProviderOption = "local",
    app: AppOption = None,
    backend_cmd: BackendCmdOption = None,
    image: ImageOption = None,
    migrate_cmd: MigrateCmdOption = None,
    provision_cmd: ProvisionCmdOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """Migration and rollback drills: the guide's migration, rollback, partial rollback and
    backup procedures, run for real and checked; drill-NAME.json per drill in the run directory."""
    try:
        chosen = select(names)
    except UnknownDrill as error:
        raise fail("drill", str(error), 2) from None
    given = given_database("drill", database_url, wipe_database, chosen)
    use_backend(
        "drill",
        app,
        backend_cmd=backend_cmd,
        image=image,
        migrate_cmd=migrate_cmd,
        provision_cmd=provision_cmd,
    )
    stack_provider = provider_named("drill", provider)
    # What runs the drills, imported once the arguments are known to be good.
    from golive.fixtures.stack import functional_headroom
    from golive.stages.drills import drill_database, run_drill

    needs_stack = given is None or any(chosen_drill.runs_backend for chosen_drill in chosen)
    if needs_stack:
        preflight("drill", functional_headroom(os.environ))
    run = run_dir_for("drill", run_dir)
    sizes = Sizes(users=users, content=content, agent_metrics=agent_metrics)
    budgets = Budgets(max_lock_ms, max_rewrite_rows, max_index_build_rows)
    stack: Stack | None = None
    results: list[tuple[DrillResult, Path]] = []
    exit_code = 1
    with interruptible():
        try:
            if needs_stack:
                started = time.perf_counter()
                stack = start_stack("drill", stack_provider, 1, run, env=functional_headroom(os.environ))
                print_stage("stack", provider, time.perf_counter() - started, True)
            for index, chosen_drill in enumerate(chosen):
                err.print(f"[bold]drill {chosen_drill.name}[/]: {chosen_drill.summary}")
                with drill_database(chosen_drill.name, given, stack, again=index > 0) as database:
                    result, path = run_drill(
                        chosen_drill, database, stack, run.path, sizes, budgets, progress_printer()
                    )
                results.append((result, path))
                _report_drill(result)
            exit_code = 0 if all(result.ok for result, _ in results) else 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping")
            exit_code = 130
        finally:
            if stack is not None:
                with shielded():
                    stack.close()
    _drill_summary(results, exit_code, run)
    run.finish(exit_code, drills={result.drill: result.ok for result, _ in results})
    raise typer.Exit(exit_code)


def _report_drill(result: DrillResult) -> None:
    err.print(result.table())
    for failure in result.failures:
        err.print(f"  [red]x[/] {escape(failure)}", soft_wrap=True)
    for warning in result.warnings:
        err.print(f"  [yellow]![/] {escape(warning)}", soft_wrap=True)


def _drill_summary(results: list[tuple[DrillResult, Path]], exit_code: int, run: RunDir) -> None:
    table = Table(title="drills", title_justify="left")
    for heading in ("drill", "verdict", "seconds", "checks", "warnings", "result"):
        table.add_column(heading, overflow="fold")
    for result, path in results:
        checks = result.checks
        table.add_row(
            result.drill,
            "[green]PASS[/]" if result.ok else "[red]FAIL[/]",
            f"{result.seconds:.1f}",
            f"{sum(check.ok for check in checks)}/{len(checks)}",
            str(len(result.warnings)),
            str(path.relative_to(run.path)),
        )
    err.print(table)
    print_outcome(exit_code, run, "every drill passed")
