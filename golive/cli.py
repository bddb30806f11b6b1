"""The golive command line."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import httpx
import psycopg
import typer
from docker.models.networks import Network
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from golive import __version__
from golive.chaos.experiment import Experiment, ExperimentError, library, resolve
from golive.chaos.experiment import load as load_experiment
from golive.chaos.journal import Journal
from golive.chaos.runner import Runner
from golive.chaos.runner import Target as ChaosTarget
from golive.chaos.targets import dedicated_target
from golive.chaos.toxiproxy.run import main as run_toxiproxy
from golive.console import err
from golive.console import fail as _fail
from golive.documents import first_problem
from golive.drills.data import Sizes
from golive.drills.database import DrillDatabase, UnsafeDatabase
from golive.drills.migration import DEFAULT_MAX_LOCK_MS
from golive.drills.result import DrillResult
from golive.drills.runner import DRILLS, DrillRun, UnknownDrill, select, stack_database
from golive.fixtures.description import StackDescription, StackFileError, check_url
from golive.fixtures.providers import PROVIDERS, Provider, ProviderError, UnknownProvider, create_provider
from golive.fixtures.providers.docker.engine import OWNER_LABEL, labels_of, leftovers, remove
from golive.fixtures.providers.docker.engine import connect as connect_docker
from golive.fixtures.providers.local.scratch import scratch_dirs
from golive.fixtures.pusher.run import DEFAULT_PORT as PUSHER_PORT
from golive.fixtures.pusher.run import main as run_pusher
from golive.fixtures.stack import Stack, functional_headroom, overridden_by_stack
from golive.images.cli import images_app
from golive.loadtests.accounts import accounts_from_environment, create_accounts
from golive.loadtests.profiles import DEFAULT_FILE as PROFILES_FILE
from golive.loadtests.profiles import Profile, ProfileError, load_profile
from golive.loadtests.results import Second
from golive.loadtests.run import BreakerWatcher, LoadError, LoadResult, locust_run
from golive.preflight import experiment_problems, settings_problems
from golive.redaction import redact
from golive.reports.build import NotARunDirectory, Report, build_report
from golive.rundir import RunDir, RunDirError, mark_killed, run_dir_of
from golive.signals import interruptible, shielded
from golive.validation import (
    Outcome,
    Plan,
    check_health,
    record_environment,
    run_chaos,
    run_drills,
    run_load,
    run_suites,
)

app = typer.Typer(
    name="golive",
    help="Proves a backend is ready to go live: spins up the stack, tests it, and says GO or NO-GO.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
THRESHOLDS_FAILED = 99  # as k6 exits when a threshold fails
CHAOS_JOIN_SECONDS = 300.0

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


def _provider(command: str, name: str) -> Provider:
    try:
        return create_provider(name)
    except ProviderError as error:
        raise _fail(command, str(error), 2 if isinstance(error, UnknownProvider) else 1) from None


def _start_stack(
    command: str,
    provider: Provider,
    replicas: int,
    run: RunDir,
    env: dict[str, str] | None = None,
    seed: int | None = None,
) -> Stack:
    try:
        return Stack(provider, run.path, replicas=replicas, env=env, seed=seed).start()
    except KeyboardInterrupt:
        raise
    except Exception as error:
        if os.environ.get("GOLIVE_DEBUG"):
            raise
        detail = str(error).strip() or type(error).__name__
        run.finish(1, outcome=f"the stack did not start: {detail}")
        raise _fail(command, f"the stack did not start: {detail}\n  logs: {run.path / 'logs'}") from None


def _target(command: str, url: str) -> StackDescription:
    try:
        return StackDescription.for_deployment(check_url(url), os.environ)
    except StackFileError as error:
        raise _fail(command, f"--target: {error}", 2) from None


def _preflight(command: str, overrides: Mapping[str, str], experiments: Sequence[Experiment] = ()) -> None:
    """Every input checked before anything starts (golive/preflight.py); then one line per
    variable of the environment the stack replaces with its own, so none is dropped silently."""
    problems = settings_problems(os.environ, overrides) + experiment_problems(
        experiments, os.environ, overrides
    )
    if problems:
        raise _fail(command, "; ".join(problems), 2)
    for name in overridden_by_stack(os.environ):
        err.print(
            f"[yellow]golive {command}:[/] {name} is set in the environment but not used: the stack "
            "sets it to reach its own services",
            soft_wrap=True,
        )


def _library(tag: str | None) -> list[Experiment]:
    try:
        experiments = [load_experiment(path) for path in library()]
    except ExperimentError as error:
        raise _fail("validate", str(error), 2) from None
    return [experiment for experiment in experiments if tag is None or tag in experiment.tags]


def _run_dir(command: str, explicit: Path | None) -> RunDir:
    try:
        return RunDir.create(command, explicit)
    except RunDirError as error:
        raise _fail(command, str(error), 2) from None


@app.command()
def up(
    provider: ProviderOption = "local",
    replicas: ReplicasOption = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one line of JSON when ready")] = False,
    run_dir: RunDirOption = None,
) -> None:
    """Start the whole stack and keep it running until Ctrl-C or SIGTERM."""
    chosen = _provider("up", provider)
    _preflight("up", {})
    run = _run_dir("up", run_dir)
    with interruptible():
        try:
            started = time.perf_counter()
            stack = _start_stack("up", chosen, replicas, run)
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
            while True:
                time.sleep(3600)
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


@app.command()
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
    run_dir: RunDirOption = None,
) -> None:
    """The go-live validation: the stack (or --target), the guide's health checks, the suites, the
    migration and rollback drills, a chaos subset and a load profile; then the report
    (report.html, summary.json, summary.md, junit.xml) and the verdict. Exit 0 only on GO."""
    plan = Plan.for_mode(quick)
    described = _target("validate", target) if target is not None else None
    chosen = _provider("validate", provider) if described is None else None
    if described is None:
        _preflight("validate", functional_headroom(os.environ), _library(plan.chaos_tag))
    run = _run_dir("validate", run_dir)
    run.record("validate", {"mode": plan.mode})
    stack: Stack | None = None
    outcomes: list[Outcome] = []
    interrupted = False

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        _stage(outcome.name, outcome.detail, outcome.seconds, outcome.ok)

    with interruptible():
        try:
            started = time.perf_counter()
            if described is not None:
                problem = _unreachable(described.sut)
                report(Outcome("target", problem or described.sut, _since(started), problem is None))
                if problem is not None:
                    run.finish(1, outcome=f"target {described.sut}: {problem}")
                    raise _fail("validate", f"--target {described.sut}: {problem}")
                described.run_dir = str(run.path)
                described.write(run.path / "stack.json")
            else:
                assert chosen is not None
                stack = _start_stack("validate", chosen, replicas, run, env=functional_headroom(os.environ))
                report(Outcome("stack", f"{provider}, {replicas} replica(s)", _since(started), True))
            _validation_stages(plan, run, stack, described, report, seed)
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
    exit_code = 130 if interrupted else 0 if built.summary.verdict == "GO" else 1
    _recorded(lambda: run.finish(exit_code, verdict=built.summary.verdict))
    _print_report(built)
    raise typer.Exit(exit_code)


def _recorded(write: Callable[[], None]) -> None:
    """run.json not updated (a full disk) must not keep the verdict from the console."""
    try:
        write()
    except OSError as error:
        err.print(f"[yellow]run.json not updated[/]: {escape(error.strerror or str(error))}", soft_wrap=True)


def _validation_stages(
    plan: Plan,
    run: RunDir,
    stack: Stack | None,
    described: StackDescription | None,
    report: Callable[[Outcome], None],
    seed: int | None,
) -> None:
    """Every stage runs even when one before it failed or broke: the report shows them all."""
    url = described.sut if described is not None else stack.sut.urls[0] if stack and stack.sut else ""
    stages: list[tuple[str, Callable[[], object]]] = [
        ("environment", lambda: record_environment(run.path, stack, described)),
        ("health", lambda: check_health(url, run.path, report)),
        ("suites", lambda: run_suites(plan, run.path / "stack.json", run.path, report)),
    ]
    if stack is not None:
        stages += [
            ("drills", lambda: run_drills(plan, stack, run.path, report, _progress_printer())),
            ("chaos", lambda: run_chaos(plan, stack, run.path, report, seed)),
        ]
    stages.append(
        ("load", lambda: run_load(plan, run.path, report, _load_progress, stack=stack, deployment=described))
    )
    for name, stage in stages:
        try:
            stage()
        except Exception as error:
            if os.environ.get("GOLIVE_DEBUG"):
                raise
            err.print(
                f"  [red]x[/] {name} broke off: {escape(redact(f'{type(error).__name__}: {error}'))}",
                soft_wrap=True,
            )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 1)


@app.command("report")
def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="a run directory (reports/out/<run-id>)", show_default=False)
    ],
) -> None:
    """(Re)build the go-live report of a run directory from what it holds: report.html,
    summary.json, summary.md, junit.xml. Exit 0 only on GO."""
    try:
        built = build_report(run_dir)
    except NotARunDirectory as error:
        raise _fail("report", str(error), 2) from None
    _print_report(built)
    raise typer.Exit(0 if built.summary.verdict == "GO" else 1)


def _print_report(built: Report) -> None:
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


def _unreachable(url: str) -> str | None:
    """Why a deployment does not answer `GET /health`, or None when it answers at all (its
    health is the suites' business): suites against a dead URL would only fail one by one."""
    try:
        httpx.get(f"{url}/health", timeout=10)
    except httpx.HTTPError as error:
        return f"does not answer GET /health ({type(error).__name__}: {error})"
    return None


def _stage(name: str, detail: str, seconds: float, ok: bool) -> None:
    mark = "[green]PASS[/]" if ok else "[red]FAIL[/]"
    err.print(f"{mark} {escape(name):<32} {seconds:6.1f} s  {escape(redact(detail))}", soft_wrap=True)


def _outcome(exit_code: int, run: RunDir, passed: str) -> None:
    if exit_code == 0:
        err.print(f"[bold green]PASS[/]: {passed}. Artifacts: {run.path}")
    elif exit_code == 130:
        err.print(f"[bold yellow]INCOMPLETE[/]: interrupted. Artifacts: {run.path}")
    else:
        err.print(f"[bold red]FAIL[/]: see the failures above. Artifacts: {run.path}")


app.add_typer(images_app, name="images")


@app.command()
def clean(
    every: Annotated[
        bool, typer.Option("--all", help="also containers of golive runs still going (stops them)")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list what would be removed")] = False,
) -> None:
    """Remove what earlier golive runs left behind: the temp dirs (Postgres data, Redis) of runs
    that were killed, their run.json marked so; containers and networks (found by label)."""
    _clean_scratch_dirs(dry_run)
    try:
        client = connect_docker()
    except ProviderError as error:
        # Without an engine there is no container to remove: the temp dirs were the work.
        err.print(f"golive clean: no container looked for: {escape(str(error))}", soft_wrap=True)
        return
    found = leftovers(client, every=every)
    for resource in found:
        if not dry_run:
            remove(resource)
        kind = "network" if isinstance(resource, Network) else "container"
        owner = labels_of(resource).get(OWNER_LABEL, "?")
        verb = "would remove" if dry_run else "removed"
        err.print(f"  {verb} {kind} {resource.name} (run of pid {owner})")
    done = "to remove" if dry_run else "removed"
    err.print(f"golive clean: {len(found)} container(s) and network(s) {done}")


def _clean_scratch_dirs(dry_run: bool) -> None:
    """Only dirs marked by a golive process that is gone (never those of a run still going)."""
    abandoned = [scratch for scratch in scratch_dirs() if scratch.abandoned]
    for scratch in abandoned:
        pid = scratch.owner.split(":", 1)[0]
        if dry_run:
            err.print(f"  would remove {scratch.path} (run of pid {pid}, gone)")
            continue
        shutil.rmtree(scratch.path, ignore_errors=True)
        if scratch.path.exists():
            err.print(
                f"  [red]x[/] could not remove {scratch.path} (run of pid {pid}): remove it as its owner"
            )
            continue
        run_dir = run_dir_of(scratch.log_dir)
        with contextlib.suppress(OSError, ValueError):
            if run_dir is not None:
                mark_killed(run_dir, scratch.owner, "killed; golive clean removed what it left")
        err.print(f"  removed {scratch.path} (run of pid {pid}, gone)")
    done = "to remove" if dry_run else "removed"
    err.print(f"golive clean: {len(abandoned)} temp dir(s) of killed runs {done}")


chaos_app = typer.Typer(help="Chaos experiments against the stack.", no_args_is_help=True)
app.add_typer(chaos_app, name="chaos")


@chaos_app.command("list")
def chaos_list() -> None:
    """The experiment library: name, tags, title."""
    try:
        experiments = [load_experiment(path) for path in library()]
    except ExperimentError as error:
        raise _fail("chaos list", str(error), 2) from None
    for experiment in experiments:
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
    chosen = _provider("chaos run", provider)
    try:
        loaded = [load_experiment(path) for path in resolve(experiments or [])]
    except ExperimentError as error:
        raise _fail("chaos run", str(error), 2) from None
    loaded = [experiment for experiment in loaded if tag is None or tag in experiment.tags]
    if not loaded:
        raise _fail("chaos run", f"no experiment has the tag {tag!r}", 2)
    _preflight("chaos run", functional_headroom(os.environ), loaded)
    run = _run_dir("chaos", run_dir)
    journals: list[Journal] = []
    exit_code = 1
    stack: Stack | None = None
    with interruptible():
        try:
            started = time.perf_counter()
            stack = _start_stack("chaos run", chosen, 1, run, env=functional_headroom(os.environ), seed=seed)
            _stage("stack", f"{provider}, seed {seed}", time.perf_counter() - started, True)
            for attempt in range(1, repeat + 1):
                for experiment in loaded:
                    with dedicated_target(stack, experiment) as target:
                        journal = Runner(experiment, target, seed).run()
                    journal.write(run.path / "chaos" / f"{experiment.name}-{attempt}.json")
                    journals.append(journal)
                    _stage(
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
    if recovery is not None:
        parts.append(f"recovered in {recovery:.2f} s")
    return ", ".join(parts)


@app.command()
def drill(
    names: Annotated[
        list[str], typer.Argument(metavar="NAME...", help=f"{', '.join(DRILLS)}, or all", show_default=False)
    ],
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="run in this (empty) database instead of a new one on the local stack; the drills "
            "create and drop restore targets next to it, nothing else",
        ),
    ] = None,
    wipe_database: Annotated[
        bool,
        typer.Option(
            "--wipe-database",
            help="with --database-url: the database may hold something, and the drill may drop "
            "everything in its public schema",
        ),
    ] = False,
    users: Annotated[int, typer.Option("--users", min=2, help="legacy users to seed")] = Sizes.users,
    content: Annotated[int, typer.Option("--content", min=1, help="legacy content rows")] = Sizes.content,
    agent_metrics: Annotated[
        int, typer.Option("--agent-metrics", min=1, help="legacy agent_metrics rows")
    ] = Sizes.agent_metrics,
    max_lock_ms: Annotated[
        float, typer.Option("--max-lock-ms", min=1, help="flag ACCESS EXCLUSIVE locks held longer")
    ] = DEFAULT_MAX_LOCK_MS,
    provider: ProviderOption = "local",
    run_dir: RunDirOption = None,
) -> None:
    """Migration and rollback drills: the guide's migration, rollback, partial rollback and
    backup procedures, run for real and checked; drill-NAME.json per drill in the run directory."""
    try:
        chosen = select(names)
    except UnknownDrill as error:
        raise _fail("drill", str(error), 2) from None
    if wipe_database and database_url is None:
        raise _fail("drill", "--wipe-database applies to --database-url only", 2)
    given = None
    if database_url is not None:
        given = _given_database(database_url, wipe_database, any(d.creates_databases for d in chosen))
    stack_provider = _provider("drill", provider)
    if given is None or any(chosen_drill.runs_backend for chosen_drill in chosen):
        _preflight("drill", functional_headroom(os.environ))
    run = _run_dir("drill", run_dir)
    sizes = Sizes(users=users, content=content, agent_metrics=agent_metrics)
    stack: Stack | None = None
    results: list[tuple[DrillResult, Path]] = []
    exit_code = 1
    with interruptible():
        try:
            if given is None or any(chosen_drill.runs_backend for chosen_drill in chosen):
                started = time.perf_counter()
                stack = _start_stack("drill", stack_provider, 1, run, env=functional_headroom(os.environ))
                _stage("stack", provider, time.perf_counter() - started, True)
            for index, chosen_drill in enumerate(chosen):
                err.print(f"[bold]drill {chosen_drill.name}[/]: {chosen_drill.summary}")
                if given is not None and index:
                    given.ensure_empty(wipe=True)  # what is there, the previous drill put there
                with _database_for(chosen_drill.name, given, stack) as database:
                    run_of_drill = DrillRun(
                        database,
                        stack,
                        run.path / "drills" / chosen_drill.name,
                        sizes,
                        max_lock_ms,
                        progress=_progress_printer(),
                    )
                    result = chosen_drill.run(run_of_drill)
                results.append((result, result.write(run.path)))
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


def _given_database(url: str, wipe: bool, creates_databases: bool) -> DrillDatabase:
    try:
        database = DrillDatabase(url)
        if creates_databases and not database.can_create_databases():
            raise UnsafeDatabase(
                f"the role of {redact(url)} may not create databases: the rollback and backup drills "
                "restore into databases of their own next to it (grant CREATEDB, or use another role)"
            )
        database.ensure_empty(wipe=wipe)
    except (UnsafeDatabase, ValueError) as error:
        raise _fail("drill", f"--database-url: {error}", 2) from None
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise _fail("drill", f"--database-url: cannot use {redact(url)}: {first}", 2) from None
    return database


@contextmanager
def _database_for(name: str, given: DrillDatabase | None, stack: Stack | None) -> Iterator[DrillDatabase]:
    if given is not None:
        yield given
        return
    assert stack is not None
    with stack_database(stack, name) as database:
        yield database


def _progress_printer() -> Callable[[str], None]:
    started = time.perf_counter()

    def progress(message: str) -> None:
        err.print(f"  [dim]{time.perf_counter() - started:6.1f} s[/]  {escape(message)}", soft_wrap=True)

    return progress


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
        checks = [check for step in result.steps for check in step.checks]
        table.add_row(
            result.drill,
            "[green]PASS[/]" if result.ok else "[red]FAIL[/]",
            f"{result.seconds:.1f}",
            f"{sum(check.ok for check in checks)}/{len(checks)}",
            str(len(result.warnings)),
            str(path.relative_to(run.path)),
        )
    err.print(table)
    _outcome(exit_code, run, "every drill passed")


@app.command()
def load(
    profile_name: Annotated[str, typer.Option("--profile", help="a profile of the profiles file")] = "smoke",
    profiles_file: Annotated[
        Path, typer.Option("--profiles", help="the profiles file", dir_okay=False)
    ] = PROFILES_FILE,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="load this deployment instead of the local stack "
            "(accounts: $GOLIVE_{USER,ADMIN}_{USERNAME,PASSWORD})",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=16, help="Locust workers under a master (0: one process)")
    ] = 0,
    replicas: Annotated[
        int | None,
        typer.Option("--replicas", min=1, max=16, help="backend replicas (default: the profile's)"),
    ] = None,
    users: Annotated[int | None, typer.Option("--users", min=1, help="override the profile's users")] = None,
    run_time: Annotated[
        str | None, typer.Option("--run-time", help="override the profile's run time (30s, 2m...)")
    ] = None,
    during: Annotated[
        str | None,
        typer.Option("--during", help="a chaos experiment (name or file) to run while the load runs"),
    ] = None,
    provider: ProviderOption = "local",
    run_dir: RunDirOption = None,
) -> None:
    """Run a load profile with Locust against the local stack (or --target), judge its thresholds;
    CSV, HTML, load.json and a per-second timeline.json in <run dir>/load/. Exit 99 when a
    threshold fails."""
    profile = _profile(profile_name, profiles_file, users, run_time, replicas)
    experiment = None
    if during is not None:
        if target is not None:
            raise _fail(
                "load", "--during injects faults through the local stack's proxy: not with --target", 2
            )
        try:
            experiment = load_experiment(resolve([during])[0])
        except ExperimentError as error:
            raise _fail("load", f"--during: {error}", 2) from None
    described = _target("load", target) if target is not None else None
    stack_provider = _provider("load", provider)
    if described is None:
        _preflight("load", profile.backend_env, [experiment] if experiment else [])
    run = _run_dir("load", run_dir)
    out_dir = run.path / "load"
    exit_code = 1
    result: LoadResult | None = None
    stack: Stack | None = None
    with interruptible(), ExitStack() as cleanup:
        try:
            started = time.perf_counter()
            if described is not None:
                hosts = described.sut_replicas or [described.sut]
                accounts = accounts_from_environment(os.environ)
                chaos_target = None
            else:
                stack = _start_stack("load", stack_provider, profile.replicas, run, env=profile.backend_env)
                cleanup.callback(_close_shielded, stack)
                _stage(
                    "stack", f"{provider}, {profile.replicas} replica(s)", time.perf_counter() - started, True
                )
                if experiment is not None:
                    chaos_target = cleanup.enter_context(dedicated_target(stack, experiment))
                    hosts, dsn = [chaos_target.sut_url], chaos_target.database
                else:
                    chaos_target = None
                    hosts, dsn = stack.sut.urls if stack.sut else [], stack.app_dsn
                assert dsn is not None
                accounts = create_accounts(dsn, profile.account_count, f"load-{run.path.name[-4:]}")
            if not accounts.users:
                err.print("[yellow]no user account[/]: only the anonymous journeys can run")
            accounts_file = accounts.write(run.path / "load-accounts.json")
            watcher = BreakerWatcher(hosts[0])
            watcher.start()
            cleanup.callback(watcher.stop)
            err.print(
                f"[bold]load {profile.name}[/]: {profile.users} users, {profile.run_time}, "
                f"{len(hosts)} backend(s), {workers or 'no'} Locust worker(s)"
            )
            locust = cleanup.enter_context(
                locust_run(profile, hosts, accounts_file, out_dir, run.path / "logs", workers=workers)
            )
            chaos = _ChaosBeside(experiment, chaos_target, profile) if experiment and chaos_target else None
            code = locust.wait(_load_progress)
            events = chaos.finish(out_dir) if chaos else []
            watcher.stop()
            result = locust.result(code, watcher.changes, events)
            summary, _ = result.write(out_dir)
            _report_load(result, summary)
            exit_code = 0 if result.ok else THRESHOLDS_FAILED
        except LoadError as error:
            err.print(f"[bold red]golive load:[/] {escape(str(error))}", soft_wrap=True)
            exit_code = 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping")
            exit_code = 130
    _outcome(exit_code if exit_code != THRESHOLDS_FAILED else 1, run, "every threshold held")
    run.finish(exit_code, load={"profile": profile.name, "ok": result.ok if result else False})
    raise typer.Exit(exit_code)


def _close_shielded(stack: Stack) -> None:
    with shielded():
        stack.close()


def _profile(name: str, path: Path, users: int | None, run_time: str | None, replicas: int | None) -> Profile:
    try:
        profile = load_profile(name, path)
        overrides = {"users": users, "run_time": run_time, "replicas": replicas}
        chosen = {key: value for key, value in overrides.items() if value is not None}
        return Profile.model_validate({**profile.model_dump(), **chosen}) if chosen else profile
    except ProfileError as error:
        raise _fail("load", str(error), 2) from None
    except ValidationError as error:
        field, problem = first_problem(error).split(": ", 1)
        raise _fail("load", f"--{field.replace('_', '-')}: {problem}", 2) from None  # the option's name


class _ChaosBeside:
    """A chaos experiment run in a thread while the load runs, started once the users are in."""

    def __init__(self, experiment: Experiment, target: ChaosTarget, profile: Profile) -> None:
        self.journal: Journal | None = None
        self.runner = Runner(experiment, target)
        warm_up = min(5.0, profile.seconds / 4)
        self.thread = threading.Thread(target=self._run, args=(warm_up,), name="chaos-beside", daemon=True)
        self.thread.start()

    def _run(self, warm_up: float) -> None:
        time.sleep(warm_up)  # a fixed offset on the timeline, not a wait for a condition
        self.journal = self.runner.run()

    def finish(self, out_dir: Path) -> list[dict[str, object]]:
        """The experiment's journal (written next to the load's results) and its events on the
        wall clock. It may outlast the load: it is waited for, bounded by its own timeouts."""
        self.thread.join(CHAOS_JOIN_SECONDS)
        if self.journal is not None:
            self.journal.write(out_dir / f"chaos-{self.journal.experiment}.json")
        if self.journal is None:
            return [{"at": time.time(), "kind": "experiment", "outcome": "still running when the load ended"}]
        start = self.journal.started_at
        events: list[dict[str, object]] = [
            {"at": start + event.at, "kind": event.kind, **event.detail}
            for event in self.journal.events
            if event.kind != "breaker"  # the load's own watcher records those
        ]
        events.append(
            {
                "at": start + self.journal.duration_seconds,
                "kind": "experiment",
                "outcome": self.journal.outcome,
            }
        )
        return events


def _load_progress(second: Second) -> None:
    if second.at % 5:
        return
    p95 = f"{second.p95_ms:.0f} ms" if second.p95_ms is not None else "-"
    err.print(
        f"  [dim]{time.strftime('%H:%M:%S', time.localtime(second.at))}[/]  {second.users:>4} users  "
        f"{second.requests_per_second:8.1f} req/s  p95 {p95:>8}  {second.failures_per_second:6.1f} fail/s"
    )


def _report_load(result: LoadResult, summary: Path) -> None:
    total = result.stats.select().summary()
    err.print(
        f"  {total['requests']} requests, {total['requests_per_second']} req/s, "
        f"p95 {total['p95_ms']} ms, {total['failures']} failed; Locust CPU avg "
        f"{result.generator.average}% peak {result.generator.peak}% of a core",
        soft_wrap=True,
    )
    if result.stats.workers:
        err.print(f"  workers reporting: {', '.join(result.stats.workers)}")
    err.print("[bold]THRESHOLDS[/]")
    for verdict in result.verdicts:
        mark = "[green]✓[/]" if verdict.ok else "[red]✗[/]"
        err.print(f"  {mark} {escape(verdict.threshold.source)}  ({escape(verdict.detail)})", soft_wrap=True)
    err.print(f"  results: {summary.parent}")


@app.command()
def toxiproxy(
    host: Annotated[str, typer.Option("--host", help="API address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="API port")] = 8474,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, dir_okay=False, help="proxies to create, /populate's JSON"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="makes partial toxicity reproducible")] = None,
) -> None:
    """Run the Toxiproxy-compatible fault proxy (any Toxiproxy client can drive it)."""
    argv = ["--host", host, "--port", str(port)]
    argv += ["--config", str(config)] if config else []
    argv += ["--seed", str(seed)] if seed is not None else []
    run_toxiproxy(argv)  # uvicorn stops it cleanly on SIGINT or SIGTERM


@app.command()
def pusher(
    host: Annotated[str, typer.Option("--host", help="address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port")] = PUSHER_PORT,
    app_id: Annotated[
        str | None, typer.Option("--app-id", envvar="PUSHER_APP_ID", help="digits (made up if unset)")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="PUSHER_KEY", help="app key")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", envvar="PUSHER_SECRET", help="app secret (better: $PUSHER_SECRET)"),
    ] = None,
    webhook_url: Annotated[str | None, typer.Option("--webhook-url", help="where webhooks go")] = None,
    batch_webhooks: Annotated[
        bool, typer.Option("--batch-webhooks", help="several events per webhook request")
    ] = False,
    activity_timeout: Annotated[
        int, typer.Option("--activity-timeout", min=1, help="seconds of silence before a ping")
    ] = 120,
    timestamp_window: Annotated[
        int, typer.Option("--timestamp-window", min=0, help="HTTP API clock skew allowed, s; 0: any")
    ] = 600,
    no_client_events: Annotated[
        bool, typer.Option("--no-client-events", help="refuse client events (Pusher's default)")
    ] = False,
) -> None:
    """Run the Pusher Channels emulator: pusher-js and the server SDKs connect to it as to Pusher."""
    argv = ["--host", host, "--port", str(port), "--activity-timeout", str(activity_timeout)]
    argv += ["--timestamp-window", str(timestamp_window)]
    for option, value in (("--app-id", app_id), ("--key", key), ("--webhook-url", webhook_url)):
        argv += [option, value] if value else []
    argv += ["--batch-webhooks"] if batch_webhooks else []
    argv += ["--no-client-events"] if no_client_events else []
    if secret:
        os.environ["PUSHER_SECRET"] = secret  # not on argv, where `ps` would show it
    run_pusher(argv)


@app.command()
def version() -> None:
    """Print golive's version."""
    print(__version__)


def main() -> None:
    app(prog_name="golive")


if __name__ == "__main__":
    main()
