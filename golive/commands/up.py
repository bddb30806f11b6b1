"""`golive up`: the whole stack, kept running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from golive.commands.common import (
    AppOption,
    BackendCmdOption,
    ImageOption,
    MigrateCmdOption,
    ProviderOption,
    ProvisionCmdOption,
    ReplicasOption,
    RunDirOption,
    preflight,
    provider_named,
    run_dir_for,
    start_stack,
    use_backend,
)
from golive.core.console import err
from golive.core.signals import interruptible, shielded, wait_for_stop
from golive.fixtures.description import StackDescription


def up(
    provider: ProviderOption = "local",
    app: AppOption = None,
    backend_cmd: BackendCmdOption = None,
    image: ImageOption = None,
    migrate_cmd: MigrateCmdOption = None,
    provision_cmd: ProvisionCmdOption = None,
    replicas: ReplicasOption = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one line of JSON when ready")] = False,
    run_dir: RunDirOption = None,
) -> None:
    """Start the whole stack and keep it running until Ctrl-C or SIGTERM."""
    use_backend(
        "up", app, backend_cmd=backend_cmd, image=image, migrate_cmd=migrate_cmd, provision_cmd=provision_cmd
    )
    chosen = provider_named("up", provider)
    preflight("up", {})
    run = run_dir_for("up", run_dir)
    with interruptible():
        try:
            started = time.perf_counter()
            stack = start_stack("up", chosen, replicas, run)
        except KeyboardInterrupt:
            run.finish(130, outcome="interrupted during start-up")
            raise typer.Exit(130) from None
        try:
            description = stack.describe()
            # The stack's secrets stay in stack.json (0600): run.json only points at it.
            run.record("up", {"startup_seconds": stack.timings.stages, "stack": "stack.json"})
            if as_json:
                print(description.public_json(), flush=True)
            else:
                _print_stack(description, time.perf_counter() - started)
            wait_for_stop()
        except KeyboardInterrupt:
            pass
        finally:
            with shielded():
                stack.close()
    run.finish(0, outcome="stopped")


def _print_stack(description: StackDescription, seconds: float) -> None:
    table = Table(title=f"golive stack ready in {seconds:.1f} s", show_header=False)
    table.add_row("backend", "\n".join(description.sut_replicas))
    table.add_row("postgres", description.postgres or "")
    table.add_row("redis", description.redis or "")
    table.add_row("AI stand-in", description.upstream or "")
    table.add_row("fault proxy", description.toxiproxy or "")
    services = ", ".join(f"{name}: {what}" for name, what in description.services.items())
    table.add_row("provider", f"{description.provider} ({services})")
    for role, credentials in description.users.items():
        table.add_row(f"{role} login", f"{credentials.username} / {credentials.password}")
    table.add_row("run dir", description.run_dir or "")
    err.print(table)
    err.print("Ctrl-C stops everything.")
