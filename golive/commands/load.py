"""`golive load`: a Locust load profile against the local stack or a deployment, its thresholds
passed or failed by name, each endpoint's latency compared with an earlier run's (--baseline);
exit 99 when a threshold fails (as k6 does) or an endpoint regressed.

Load from several machines is Locust's distributed mode: `--master --expect-workers N` is the run
(stack or target, profile, thresholds, evidence: all here, judged as a single process's run), and
`--worker --master-host H` on each other machine is one of its N workers, which needs nothing
else: its master hands it the run. A worker exits 0 once its master ended the run, and 1 with one
line when the master never answered or went silent for --master-timeout seconds."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from golive.chaos.experiment import Experiment, ExperimentError, resolve
from golive.chaos.experiment import load as load_experiment
from golive.commands.common import (
    AppOption,
    BackendCmdOption,
    BaselineOption,
    ImageOption,
    MigrateCmdOption,
    ProviderOption,
    ProvisionCmdOption,
    RunDirOption,
    baseline_named,
    deployment,
    load_progress,
    preflight,
    print_outcome,
    print_stage,
    provider_named,
    run_dir_for,
    start_stack,
    use_backend,
)
from golive.core.console import err, fail
from golive.core.documents import located_problem
from golive.core.extras import require
from golive.core.load_regression import Regression
from golive.core.signals import interruptible, shielded
from golive.fixtures.network import LOOPBACK
from golive.loadtests.profiles import DEFAULT_FILE as PROFILES_FILE
from golive.loadtests.profiles import Profile, ProfileError, profile_with
from golive.loadtests.run import MASTER_PORT, LoadError, LoadResult, MasterBinding, binding_problem

if TYPE_CHECKING:
    from golive.fixtures.stack import Stack

# As k6 exits when a threshold fails; an endpoint slower than the baseline allows fails alike.
CHECKS_FAILED = 99
MASTER_TIMEOUT = 60.0
# The options of the run itself: a worker takes all of it from its master.
RUN_OPTIONS = (
    "profile_name", "profiles_file", "target", "workers", "replicas", "users", "run_time", "during",
    "baseline", "master", "expect_workers", "master_bind_host", "master_bind_port",
)  # fmt: skip
WORKER_OPTIONS = ("master_host", "master_port", "master_timeout")
MASTER_OPTIONS = ("expect_workers", "master_bind_host", "master_bind_port")


def load(
    ctx: typer.Context,
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
    master: Annotated[
        bool,
        typer.Option(
            "--master",
            help="run Locust's master here and wait for --expect-workers workers from other machines "
            "(golive load --worker there)",
        ),
    ] = False,
    expect_workers: Annotated[
        int | None,
        typer.Option(
            "--expect-workers", min=1, max=1000, help="with --master: how many workers make the run"
        ),
    ] = None,
    master_bind_host: Annotated[
        str,
        typer.Option(
            "--master-bind-host", help="with --master: the address workers reach it at (0.0.0.0: every one)"
        ),
    ] = LOOPBACK,
    master_bind_port: Annotated[
        int, typer.Option("--master-bind-port", min=1, max=65535, help="with --master: its port")
    ] = MASTER_PORT,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="be one of the workers of golive load --master at --master-host (which holds the "
            "profile, the target and the thresholds)",
        ),
    ] = False,
    master_host: Annotated[
        str | None, typer.Option("--master-host", help="with --worker: the master's address")
    ] = None,
    master_port: Annotated[
        int, typer.Option("--master-port", min=1, max=65535, help="with --worker: the master's port")
    ] = MASTER_PORT,
    master_timeout: Annotated[
        float,
        typer.Option(
            "--master-timeout",
            min=1,
            max=3600,
            help="with --worker: seconds to wait for the master to answer, and at most without word from it",
        ),
    ] = MASTER_TIMEOUT,
    provider: ProviderOption = "local",
    app: AppOption = None,
    backend_cmd: BackendCmdOption = None,
    image: ImageOption = None,
    migrate_cmd: MigrateCmdOption = None,
    provision_cmd: ProvisionCmdOption = None,
    baseline: BaselineOption = None,
    run_dir: RunDirOption = None,
) -> None:
    """Run a load profile with Locust against the local stack (or --target), judge its thresholds
    and compare each endpoint with the --baseline run; CSV, HTML, load.json and a per-second
    timeline.json in <run dir>/load/. Exit 99 when a threshold fails or an endpoint regressed.
    With --master, its Locust workers run on other machines: golive load --worker there."""
    require("locust")
    given = _given(ctx)
    if worker:
        _work(given, master_host, master_port, master_timeout, run_dir)
    binding = _master(master, given, expect_workers, master_bind_host, master_bind_port)
    profile = _profile(profile_name, profiles_file, users, run_time, replicas)
    reference = baseline_named("load", baseline)
    experiment = _during(during, target)
    described = deployment("load", target) if target is not None else None
    use_backend("load", app, target, backend_cmd, image, migrate_cmd, provision_cmd)
    stack_provider = provider_named("load", provider)
    if described is None:
        preflight("load", profile.backend_env, [experiment] if experiment else [])
    # Imported once the input is checked: a refused command does without the stack's code.
    from golive.chaos.targets import dedicated_target
    from golive.stages.load import accounts_for, run_profile

    run = run_dir_for("load", run_dir)
    exit_code = 1
    result: LoadResult | None = None
    with interruptible(), ExitStack() as cleanup:
        try:
            started = time.perf_counter()
            beside = None
            if described is not None:
                hosts, dsn = described.sut_replicas or [described.sut], None
            else:
                stack = start_stack("load", stack_provider, profile.replicas, run, env=profile.backend_env)
                cleanup.callback(_close_shielded, stack)
                print_stage(
                    "stack", f"{provider}, {profile.replicas} replica(s)", time.perf_counter() - started, True
                )
                if experiment is not None:
                    chaos_target = cleanup.enter_context(dedicated_target(stack, experiment))
                    hosts, dsn = chaos_target.sut_urls, chaos_target.database
                    beside = (experiment, chaos_target)
                else:
                    hosts, dsn = stack.sut.urls if stack.sut else [], stack.app_dsn
                assert dsn is not None
            accounts = accounts_for(profile, dsn, run.path, "load")
            if not accounts.users:
                err.print("[yellow]no user account[/]: only the anonymous journeys can run")
            accounts_file = accounts.write(run.path / "load-accounts.json")
            generators = (
                f"{binding.workers} Locust worker(s) from elsewhere"
                if binding
                else f"{workers or 'no'} Locust worker(s)"
            )
            err.print(
                f"[bold]load {profile.name}[/]: {profile.users} users, {profile.run_time}, "
                f"{len(hosts)} backend(s), {generators}"
            )
            if binding is not None:
                _announce(binding, local_stack=described is None)
            result, summary = run_profile(
                profile,
                hosts,
                accounts_file,
                run.path,
                load_progress,
                workers=workers,
                master=binding,
                beside=beside,
                baseline=reference,
            )
            _report_load(result, summary)
            exit_code = 0 if result.passed else CHECKS_FAILED
        except LoadError as error:
            err.print(f"[bold red]golive load:[/] {escape(str(error))}", soft_wrap=True)
            exit_code = 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping")
            exit_code = 130
    print_outcome(exit_code if exit_code != CHECKS_FAILED else 1, run, "every threshold held")
    run.finish(exit_code, load={"profile": profile.name, "ok": result.passed if result else False})
    raise typer.Exit(exit_code)


def _master(
    master: bool, given: set[str], expect_workers: int | None, bind_host: str, bind_port: int
) -> MasterBinding | None:
    """The --master options, checked before anything starts (exit 2 when they cannot work)."""
    if not master:
        _only_with("--master", given, MASTER_OPTIONS)
        _only_with("--worker", given, WORKER_OPTIONS)
        return None
    _only_with("--worker", given, WORKER_OPTIONS)
    if expect_workers is None:
        raise fail("load", "--master needs --expect-workers N: how many golive load --worker make the run", 2)
    if "workers" in given:
        raise fail(
            "load",
            "--workers starts workers on this machine, --master waits for them from others: not both",
            2,
        )
    binding = MasterBinding(bind_host, bind_port, expect_workers)
    problem = binding_problem(binding)
    if problem is not None:
        raise fail("load", f"--master-bind-host/--master-bind-port {bind_host}:{bind_port}: {problem}", 2)
    return binding


def _only_with(mode: str, given: set[str], names: tuple[str, ...]) -> None:
    stray = [_option(name) for name in names if name in given]
    if stray:
        raise fail("load", f"{', '.join(stray)} only with {mode}", 2)


def _given(ctx: typer.Context) -> set[str]:
    """The options given on the command line (not their defaults, nor from the environment)."""
    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            given.add(name)
    return given


def _option(name: str) -> str:
    spelled = {"profile_name": "--profile", "profiles_file": "--profiles"}
    return spelled.get(name, "--" + name.replace("_", "-"))


def _announce(binding: MasterBinding, local_stack: bool) -> None:
    address = "this machine's address" if binding.host in ("*", "0.0.0.0") else binding.host  # noqa: S104
    err.print(
        f"  Locust master on {binding.host}:{binding.port}, waiting for {binding.workers} worker(s): "
        f"golive load --worker --master-host {address} --master-port {binding.port}",
        soft_wrap=True,
    )
    if local_stack and binding.host != LOOPBACK:
        err.print(
            "[yellow]golive load:[/] the local stack's backends listen on 127.0.0.1: only workers on "
            "this machine reach them (--target a deployment for workers elsewhere)",
            soft_wrap=True,
        )


def _work(given: set[str], host: str | None, port: int, timeout: float, run_dir: Path | None) -> NoReturn:
    """`golive load --worker`: one Locust worker for the master at host:port, until the master ends
    the run (exit 0), or one line and exit 1 when it never answers or goes silent."""
    stray = [_option(name) for name in RUN_OPTIONS if name in given]
    if stray:
        raise fail("load", f"--worker takes the run from its master: not with {', '.join(stray)}", 2)
    if host is None:
        raise fail(
            "load", "--worker needs --master-host: the address of the machine running golive load --master", 2
        )
    from golive.stages.load import run_worker

    run = run_dir_for("load", run_dir)
    exit_code = 1
    with interruptible():
        try:
            report = run_worker(
                host,
                port,
                timeout,
                run.path,
                lambda index: err.print(f"  connected to the Locust master at {host}:{port}: worker {index}"),
            )
            err.print(
                f"[bold green]PASS[/]: worker {report.index} sent {report.requests} requests "
                f"({report.failures} failed) until its master ended the run; the results are the master's",
                soft_wrap=True,
            )
            exit_code = 0
        except LoadError as error:
            err.print(f"[bold red]golive load:[/] {escape(str(error))}", soft_wrap=True)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping")
            exit_code = 130
    run.finish(exit_code, load={"worker_of": f"{host}:{port}", "ok": exit_code == 0})
    raise typer.Exit(exit_code)


def _profile(name: str, path: Path, users: int | None, run_time: str | None, replicas: int | None) -> Profile:
    try:
        return profile_with(name, path, users, run_time, replicas)
    except ProfileError as error:
        raise fail("load", str(error), 2) from None
    except ValidationError as error:
        field, problem = located_problem(error)
        raise fail("load", f"--{(field or 'document').replace('_', '-')}: {problem}", 2) from None


def _during(during: str | None, target: str | None) -> Experiment | None:
    if during is None:
        return None
    if target is not None:
        raise fail("load", "--during injects faults through the local stack's proxy: not with --target", 2)
    try:
        return load_experiment(resolve([during])[0])
    except ExperimentError as error:
        raise fail("load", f"--during: {error}", 2) from None


def _close_shielded(stack: Stack) -> None:
    with shielded():
        stack.close()


def _report_load(result: LoadResult, summary: Path) -> None:
    total = result.stats.select().summary()
    err.print(
        f"  {total.requests} requests, {total.requests_per_second} req/s, "
        f"p95 {total.p95_ms} ms, {total.failures} failed; Locust CPU avg "
        f"{result.generator.average}% peak {result.generator.peak}% of a core",
        soft_wrap=True,
    )
    if result.stats.workers:
        err.print(f"  workers reporting: {', '.join(result.stats.workers)}")
    err.print("[bold]THRESHOLDS[/]")
    for verdict in result.verdicts:
        mark = "[green]✓[/]" if verdict.ok else "[red]✗[/]"
        err.print(f"  {mark} {escape(verdict.threshold.source)}  ({escape(verdict.detail)})", soft_wrap=True)
    _report_regression(result.regression)
    if result.experiment is not None:
        _report_experiment(*result.experiment, result.events, summary.parent)
    err.print(f"  results: {summary.parent}")


def _report_experiment(name: str, outcome: str, events: list[dict[str, Any]], out_dir: Path) -> None:
    """The experiment run beside the load: held, or what went wrong (its journal says the rest)."""
    held = outcome == "held"
    mark = "[green]✓[/]" if held else "[red]✗[/]"
    err.print(f"[bold]CHAOS[/] {mark} {escape(name)}: {escape(outcome)}", soft_wrap=True)
    if held:
        return
    for event in events:
        if event["kind"] == "probe" and not event.get("ok", True):
            line = f"probe {event.get('name')!r} ({event.get('phase')}): answered {event.get('answer')}"
            err.print(f"  [red]x[/] {escape(line)}", soft_wrap=True)
        elif event["kind"] == "error":
            err.print(f"  [red]x[/] {escape(str(event.get('error')))}", soft_wrap=True)
    journal = out_dir / f"chaos-{name}.json"
    if journal.exists():  # not when the experiment outlasted its wait
        err.print(f"  journal: {journal}", soft_wrap=True)


def _report_regression(regression: Regression) -> None:
    if regression.not_compared is not None:
        err.print(f"[bold]REGRESSION[/] n/a: {escape(regression.not_compared)}", soft_wrap=True)
        return
    err.print(f"[bold]REGRESSION[/] against run {escape(str(regression.baseline_run))}")
    for change in regression.changes:
        mark = "[red]✗[/]" if change.regressed else "[green]✓[/]"
        err.print(f"  {mark} {escape(str(change))}", soft_wrap=True)
    if regression.too_few_requests:
        listed = escape(", ".join(regression.too_few_requests))
        err.print(f"  not compared (too few requests): {listed}", soft_wrap=True)
