"""What several commands share: their common options, how a stack or a run directory is had (or
the one line and exit code when it cannot be), and the lines they print about stages."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from golive.core.console import err, fail
from golive.core.extras import require
from golive.core.records import EvidenceError
from golive.core.redaction import redact
from golive.core.rundir import RunDir, RunDirError
from golive.fixtures.backend import (
    COMMAND_ENV_VAR,
    IMAGE_ENV_VAR,
    MIGRATE_ENV_VAR,
    PROVISION_ENV_VAR,
    Backend,
    BackendError,
)
from golive.fixtures.backend import ENV_VAR as BACKEND_ENV_VAR
from golive.fixtures.description import StackDescription, StackFileError, check_url
from golive.fixtures.providers import PROVIDERS, Provider, ProviderError, UnknownProvider, create_provider

if TYPE_CHECKING:
    # Imported where they are used: a command refused for its options or its input (the suite
    # runs a hundred such) needs none of them, and they were two thirds of its start-up. The
    # stack and the preflight are half a second together; the report's builder a sixth, the
    # drills' code half a second, the load evidence a tenth (`golive up` needs none of these).
    from golive.chaos.experiment import Experiment
    from golive.chaos.targets import DeploymentTarget
    from golive.core.load_evidence import LoadRecord, TimelineSecond
    from golive.drills.database import DrillDatabase
    from golive.drills.runner import Drill
    from golive.fixtures.stack import Stack
    from golive.reports.build import Report

ProviderOption = Annotated[
    str,
    typer.Option(
        "--provider",
        envvar="GOLIVE_PROVIDER",
        help=f"who starts Postgres, Redis and the fault proxy: {', '.join(PROVIDERS)}",
    ),
]
ReplicasOption = Annotated[int, typer.Option("--replicas", min=1, max=16, help="backend replicas")]
RunDirOption = Annotated[
    Path | None,
    typer.Option(
        "--run-dir", help="write artifacts here instead of a new reports/out/<run-id>/", file_okay=False
    ),
]
ToxiproxyOption = Annotated[
    str | None,
    typer.Option(
        "--toxiproxy",
        help="with --target: the Toxiproxy API in front of the deployment's dependencies (proxies "
        "postgres, redis, upstream, pusher, as deploy/kubernetes/staging-chaos/toxiproxy.json); the "
        "chaos experiments run through it",
    ),
]
BaselineOption = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="an earlier run (its run directory or load.json) to compare each endpoint's latency with: "
        "the last GO of the same load on this machine",
    ),
]


AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        envvar=BACKEND_ENV_VAR,
        help="your backend, as PACKAGE.main:app (laid out like the reference backend; importable from "
        "the current directory or the environment): golive starts it instead of the reference backend",
        show_default="the reference backend",
    ),
]


BackendCmdOption = Annotated[
    str | None,
    typer.Option(
        "--backend-cmd",
        envvar=COMMAND_ENV_VAR,
        help="the shell command that serves one replica of your backend on $HOST:$PORT, as you deploy "
        "it (e.g. gunicorn with uvicorn workers); its settings are in its environment. Default: "
        "uvicorn serving --app",
    ),
]


ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image",
        envvar=IMAGE_ENV_VAR,
        help="your release image: each replica is a container of it (its own command, on the "
        "host's network, serving on $HOST:$PORT; its settings in its environment), the backend's "
        "source (--app) still gives golive its migrations and accounts",
    ),
]


MigrateCmdOption = Annotated[
    str | None,
    typer.Option(
        "--migrate-cmd",
        envvar=MIGRATE_ENV_VAR,
        help="the command that migrates your database to head, given $DATABASE_URL, as your "
        "deployment runs it (with --image: in a container of the image, e.g. `python -m "
        "app.manage migrate`). Default: golive runs the backend's Alembic migrations",
    ),
]


ProvisionCmdOption = Annotated[
    str | None,
    typer.Option(
        "--provision-cmd",
        envvar=PROVISION_ENV_VAR,
        help="the command that creates one account, given $DATABASE_URL, $GOLIVE_USERNAME, "
        "$GOLIVE_PASSWORD and $GOLIVE_ROLE (with --image: in a container of the image). Default: "
        "golive calls the backend's manage.create_user_at",
    ),
]


DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="run the drills in this (empty) database instead of a new one on the local stack, e.g. on "
        "your deployment's Postgres server; they create and drop restore targets next to it, nothing else",
    ),
]
WipeDatabaseOption = Annotated[
    bool,
    typer.Option(
        "--wipe-database",
        help="with --database-url: the database may hold something, and the drills may drop everything "
        "in its public schema",
    ),
]


def given_database(
    command: str, url: str | None, wipe: bool, drills: Sequence[Drill]
) -> DrillDatabase | None:
    """The database --database-url names, checked before anything starts (reachable, empty or
    --wipe-database, and CREATEDB where a drill restores next to it): exit 2 saying why."""
    if url is None:
        if wipe:
            raise fail(command, "--wipe-database applies to --database-url only", 2)
        return None
    import psycopg

    from golive.drills.database import DrillDatabase, UnsafeDatabase

    try:
        database = DrillDatabase(url)
        if any(drill.creates_databases for drill in drills) and not database.can_create_databases():
            raise UnsafeDatabase(
                f"the role of {redact(url)} may not create databases: the rollback and backup drills "
                "restore into databases of their own next to it (grant CREATEDB, or use another role)"
            )
        database.ensure_empty(wipe=wipe)
    except (UnsafeDatabase, ValueError) as error:
        raise fail(command, f"--database-url: {error}", 2) from None
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise fail(command, f"--database-url: cannot use {redact(url)}: {first}", 2) from None
    return database


def use_backend(
    command: str,
    app: str | None,
    target: str | None = None,
    backend_cmd: str | None = None,
    image: str | None = None,
    migrate_cmd: str | None = None,
    provision_cmd: str | None = None,
) -> Backend:
    """The backend this command and everything it starts run (GOLIVE_APP and GOLIVE_BACKEND_CMD
    for the children, the current directory importable as for `uvicorn`), checked against the
    contract before anything starts: exit 2 naming what it misses. Without --app, the reference
    backend, unchecked (it meets the contract; without golive[backend] installed, what needs it
    names the extra)."""
    started = {
        "--app": app,
        "--backend-cmd": backend_cmd,
        "--image": image,
        "--migrate-cmd": migrate_cmd,
        "--provision-cmd": provision_cmd,
    }
    for option, given in started.items():
        if given is not None and target is not None:
            message = f"{option} names a backend golive starts; --target validates a deployment: give one"
            raise fail(command, message, 2)
    if backend_cmd is not None and image is not None:
        raise fail(command, "--backend-cmd and --image both say how replicas are served: give one", 2)
    if backend_cmd is not None:
        if not backend_cmd.strip():
            raise fail(command, "--backend-cmd: empty (give the command that serves one replica)", 2)
        os.environ[COMMAND_ENV_VAR] = backend_cmd.strip()
    for option, given, variable, what in (
        ("--migrate-cmd", migrate_cmd, MIGRATE_ENV_VAR, "migrates to head"),
        ("--provision-cmd", provision_cmd, PROVISION_ENV_VAR, "creates one account"),
    ):
        if given is not None:
            if not given.strip():
                raise fail(command, f"{option}: empty (give the command that {what})", 2)
            os.environ[variable] = given.strip()
    if image is not None:
        from golive.fixtures.image_replica import ImageUnavailable, check_image

        require("docker")  # docker-py: the reaper of the image's containers
        try:
            check_image(image.strip())
        except ImageUnavailable as error:
            raise fail(command, f"--image: {error}", 2) from None
        os.environ[IMAGE_ENV_VAR] = image.strip()
    if app is None:
        return Backend.current({})
    try:
        backend = Backend.from_app(app)
    except BackendError as error:
        raise fail(command, f"--app: {error}", 2) from None
    if not backend.is_reference:
        here = os.getcwd()
        if here not in sys.path:
            sys.path.insert(0, here)
        paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ[BACKEND_ENV_VAR] = backend.app
    try:
        backend.check()
    except BackendError as error:
        raise fail(command, f"--app: {error}", 2) from None
    return backend


def provider_named(command: str, name: str) -> Provider:
    try:
        return create_provider(name)
    except ProviderError as error:
        raise fail(command, str(error), 2 if isinstance(error, UnknownProvider) else 1) from None


def start_stack(
    command: str,
    provider: Provider,
    replicas: int,
    run: RunDir,
    env: dict[str, str] | None = None,
    seed: int | None = None,
) -> Stack:
    from golive.fixtures.stack import Stack

    try:
        return Stack(provider, run.path, replicas=replicas, env=env, seed=seed).start()
    except KeyboardInterrupt:
        raise
    except Exception as error:
        if os.environ.get("GOLIVE_DEBUG"):
            raise
        detail = str(error).strip() or type(error).__name__
        run.finish(1, outcome=f"the stack did not start: {detail}")
        raise fail(command, f"the stack did not start: {detail}\n  logs: {run.path / 'logs'}") from None


def deployment(command: str, url: str) -> StackDescription:
    try:
        return StackDescription.for_deployment(check_url(url), os.environ)
    except StackFileError as error:
        raise fail(command, f"--target: {error}", 2) from None


def deployment_chaos(
    command: str, described: StackDescription | None, toxiproxy: str, seed: int | None
) -> DeploymentTarget:
    """The deployment as the chaos experiments' target, its --toxiproxy checked before anything
    starts (with --target, without --seed, answering with golive's four proxies): one line and
    exit 2 otherwise."""
    from golive.chaos.targets import DeploymentTarget, toxiproxy_problem  # for the commands that run chaos

    if described is None:
        raise fail(command, "--toxiproxy needs --target: it is the fault proxy of that deployment", 2)
    if seed is not None:
        raise fail(
            command,
            "--seed: a deployment's Toxiproxy rolls its own dice "
            "(golive's proxy takes --seed where it starts)",
            2,
        )
    try:
        url = check_url(toxiproxy)
    except StackFileError as error:
        raise fail(command, f"--toxiproxy: {error}", 2) from None
    problem = toxiproxy_problem(url)
    if problem is not None:
        raise fail(command, f"--toxiproxy {url}: {problem}", 2)
    return DeploymentTarget(described.sut, url, described.users)


def preflight(command: str, overrides: Mapping[str, str], experiments: Sequence[Experiment] = ()) -> None:
    """Every input checked before anything starts (golive/stages/preflight.py); then one line per
    variable of the environment the stack replaces with its own, so none is dropped silently."""
    from golive.fixtures.stack import overridden_by_stack
    from golive.stages.preflight import experiment_problems, settings_problems

    problems = settings_problems(os.environ, overrides) + experiment_problems(
        experiments, os.environ, overrides
    )
    if problems:
        raise fail(command, "; ".join(problems), 2)
    for name in overridden_by_stack(os.environ):
        err.print(
            f"[yellow]golive {command}:[/] {name} is set in the environment but not used: the stack "
            "sets it to reach its own services",
            soft_wrap=True,
        )


def baseline_named(command: str, path: Path | None) -> LoadRecord | None:
    """The --baseline run's load.json, read before anything starts (exit 2 when it is not one)."""
    if path is None:
        return None
    from golive.core.load_evidence import read_load_record

    try:
        return read_load_record(path)
    except EvidenceError as error:
        raise fail(command, f"--baseline: {error}", 2) from None


def run_dir_for(command: str, explicit: Path | None, *, once: bool = False) -> RunDir:
    try:
        return RunDir.create(command, explicit, once=once)
    except RunDirError as error:
        raise fail(command, str(error), 2) from None


def print_stage(name: str, detail: str, seconds: float, ok: bool, not_applicable: bool = False) -> None:
    mark = "[dim]N/A [/]" if not_applicable else "[green]PASS[/]" if ok else "[red]FAIL[/]"
    err.print(f"{mark} {escape(name):<32} {seconds:6.1f} s  {escape(redact(detail))}", soft_wrap=True)


def print_outcome(exit_code: int, run: RunDir, passed: str) -> None:
    if exit_code == 0:
        err.print(f"[bold green]PASS[/]: {passed}. Artifacts: {run.path}")
    elif exit_code == 130:
        err.print(f"[bold yellow]INCOMPLETE[/]: interrupted. Artifacts: {run.path}")
    else:
        err.print(f"[bold red]FAIL[/]: see the failures above. Artifacts: {run.path}")


def progress_printer() -> Callable[[str], None]:
    """Progress lines timed from when it was made."""
    started = time.perf_counter()

    def progress(message: str) -> None:
        err.print(f"  [dim]{time.perf_counter() - started:6.1f} s[/]  {escape(message)}", soft_wrap=True)

    return progress


def load_progress(second: TimelineSecond) -> None:
    if second.at % 5:
        return
    p95 = f"{second.p95_ms:.0f} ms" if second.p95_ms is not None else "-"
    err.print(
        f"  [dim]{time.strftime('%H:%M:%S', time.localtime(second.at))}[/]  {second.users:>4} users  "
        f"{second.requests_per_second:8.1f} req/s  p95 {p95:>8}  {second.failures_per_second:6.1f} fail/s"
    )


def print_report(built: Report) -> None:
    from rich.table import Table

    summary = built.summary
    colours = {"pass": "green", "fail": "red", "missing": "yellow", "n/a": "dim"}
    table = Table("gate", "status", box=None, title="Gates", title_justify="left")
    table.add_column("detail", overflow="fold")
    for gate in summary.gates:
        colour = colours[gate.status]
        table.add_row(gate.title, f"[{colour}]{gate.status.upper()}[/]", escape(gate.detail[:160]))
    err.print(table)
    for reason in summary.reasons[:12]:
        err.print(f"  [red]x[/] {escape(reason[:300])}", soft_wrap=True)
    colour = {"GO": "green", "NO-GO": "red", "INCOMPLETE": "yellow"}[summary.verdict]
    where = f"report: {built.paths['report.html']}" if built.unwritten is None else "no report written"
    err.print(f"[bold {colour}]{summary.verdict}[/]  {escape(where)}", soft_wrap=True)


def since(started: float) -> float:
    return round(time.perf_counter() - started, 1)
