"""`golive validate`: the go-live validation, one line per stage, then the gates and the verdict."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from golive.commands.common import (
    AppOption,
    BackendCmdOption,
    BaselineOption,
    DatabaseUrlOption,
    ImageOption,
    MigrateCmdOption,
    ProviderOption,
    ProvisionCmdOption,
    ReplicasOption,
    RunDirOption,
    ToxiproxyOption,
    WipeDatabaseOption,
    baseline_named,
    deployment,
    deployment_chaos,
    given_database,
    load_progress,
    preflight,
    print_report,
    print_stage,
    progress_printer,
    provider_named,
    run_dir_for,
    since,
    start_stack,
    use_backend,
)
from golive.core.console import err, fail
from golive.core.redaction import redact
from golive.core.signals import interruptible, shielded
from golive.drills.runner import select
from golive.reports.gates import GATE_IDS
from golive.reports.summary import EXIT_CODES
from golive.stages.outcome import Outcome
from golive.stages.plan import Plan

if TYPE_CHECKING:
    from golive.fixtures.providers import Provider
    from golive.fixtures.stack import Stack


def validate(
    provider: ProviderOption = "local",
    app: AppOption = None,
    backend_cmd: BackendCmdOption = None,
    image: ImageOption = None,
    migrate_cmd: MigrateCmdOption = None,
    provision_cmd: ProvisionCmdOption = None,
    replicas: ReplicasOption = 1,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="validate an existing deployment at this URL instead of starting a stack "
            "(credentials: $GOLIVE_{ADMIN,USER}_{USERNAME,PASSWORD})",
        ),
    ] = None,
    toxiproxy: ToxiproxyOption = None,
    database_url: DatabaseUrlOption = None,
    wipe_database: WipeDatabaseOption = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="a few minutes: the smoke load profile, the fast chaos subset")
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of the fault proxy's dice")] = None,
    baseline: BaselineOption = None,
    run_dir: RunDirOption = None,
    gates: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            metavar="GATE",
            help="only what this gate judges (repeatable; the ids of summary.json's gates): a "
            "failed gate re-checked in a fraction of the time; never GO, the other gates not run",
        ),
    ] = None,
    lanes: Annotated[
        int | None,
        typer.Option(
            "--lanes",
            min=1,
            max=4,
            help="stacks the suites, drills and chaos run on side by side, each like the first "
            "(default: one more than the CPUs, at most 3; 1: every stage in turn)",
        ),
    ] = None,
) -> None:
    """The go-live validation: the stack (or --target), the guide's health checks, the suites, the
    migration and rollback drills, a chaos subset (against --target: through its --toxiproxy) and
    a load profile (each endpoint's latency compared with the --baseline run's, when given); then
    the report (report.html, summary.json, summary.md, junit.xml) and the verdict. Exit 0 on GO, 1
    on NO-GO, 3 when INCOMPLETE."""
    plan = Plan.for_mode(quick)
    if gates:
        unknown = [gate for gate in gates if gate not in GATE_IDS]
        if unknown:
            raise fail("validate", f"--gate {unknown[0]}: no such gate (gates: {', '.join(GATE_IDS)})", 2)
        plan = plan.focused(gates)
    reference = baseline_named("validate", baseline)
    described = deployment("validate", target) if target is not None else None
    chaos_there = deployment_chaos("validate", described, toxiproxy, seed) if toxiproxy is not None else None
    use_backend("validate", app, target, backend_cmd, image, migrate_cmd, provision_cmd)
    drills = select(list(plan.drills))
    drills_in = given_database("validate", database_url, wipe_database, drills)
    # Against a deployment, the drills that run a backend run it from here, on a stack of their own.
    drill_stack_wanted = (
        described is not None and drills_in is not None and any(d.runs_backend for d in drills)
    )
    chosen = provider_named("validate", provider) if described is None or drill_stack_wanted else None
    # What runs the validation, imported once its arguments are known to be good.
    from golive.chaos.experiment import ExperimentError, select_experiments
    from golive.fixtures.stack import functional_headroom
    from golive.reports.build import build_report
    from golive.stages.health import unreachable
    from golive.stages.validation import DrillPlace, Printers, run_stages

    library = []
    if described is None or chaos_there is not None:
        try:
            library = select_experiments([], plan.chaos_tag)
        except ExperimentError as error:
            raise fail("validate", str(error), 2) from None
    if described is None or drill_stack_wanted:
        preflight("validate", functional_headroom(os.environ), library)
    run = run_dir_for("validate", run_dir, once=True)
    run.record("validate", {"mode": plan.mode})
    if plan.gates is not None:
        run.record("validate", {"gates": list(plan.gates)})
    if chaos_there is not None:
        run.record("validate", {"toxiproxy": chaos_there.toxiproxy})
    stack: Stack | None = None
    drill_stack: Stack | None = None
    beside = _LaneStacks(min(lanes or default_lanes(os.cpu_count() or 1), max(1, plan.lane_work)))
    outcomes: list[Outcome] = []
    interrupted = False

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        print_stage(outcome.name, outcome.detail, outcome.seconds, outcome.ok, outcome.not_applicable)

    printers = Printers(progress_printer, load_progress, _broke_off)
    stacks: list[Stack] = []
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
                if drill_stack_wanted:
                    assert chosen is not None
                    started = time.perf_counter()
                    drill_stack = start_stack("validate", chosen, 1, run, env=functional_headroom(os.environ))
                    report(Outcome("stack", f"{provider}, for the drills' backends", since(started), True))
            else:
                assert chosen is not None
                beside.start(chosen, replicas, run.path)
                stack = start_stack("validate", chosen, replicas, run, env=functional_headroom(os.environ))
                stacks = [stack, *beside.started()]
                lanes_said = f", {len(stacks)} lanes" if len(stacks) > 1 else ""
                report(
                    Outcome("stack", f"{provider}, {replicas} replica(s){lanes_said}", since(started), True)
                )
            run_stages(
                plan, run.path, stacks, described, library, report, printers, seed, reference, chaos_there,
                DrillPlace(drills_in, drill_stack),
            )  # fmt: skip
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: stopping; the report will say what ran")
            interrupted = True
        finally:
            with shielded():
                beside.close()
                for started_here in (stack, drill_stack):
                    if started_here is not None:
                        started_here.close()
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


def default_lanes(cpus: int) -> int:
    """One lane more than the CPUs: the stages wait much of their time (on breakers' timeouts,
    on the backend), so a third lane on a 2-core machine fills time two leave idle (measured: a
    quick validation 140 s with 2 lanes, 120 s with 3). A machine of one core runs them in turn."""
    return 1 if cpus < 2 else min(3, cpus + 1)


class _LaneStacks:
    """The stacks besides the validated one that the suites and drills run on side by side
    (`--lanes`), started while the first starts. One that does not start is said in a line, and
    the validation goes on with fewer lanes: they only make it faster."""

    def __init__(self, lanes: int) -> None:
        self.wanted = lanes - 1
        self._stacks: list[Stack] = []
        self._thread: threading.Thread | None = None

    def start(self, provider: Provider, replicas: int, run_dir: Path) -> None:
        if self.wanted < 1:
            return

        from golive.fixtures.stack import Stack, functional_headroom

        def start_all() -> None:
            for lane in range(1, self.wanted + 1):
                directory = run_dir / "lanes" / str(lane)
                stack = Stack(provider, directory, replicas=replicas, env=functional_headroom(os.environ))
                try:
                    self._stacks.append(stack.start())
                except Exception as error:
                    detail = redact(str(error).strip() or type(error).__name__)
                    err.print(
                        f"[yellow]golive validate:[/] lane {lane + 1}'s stack did not start "
                        f"({escape(detail)}); its stages run in the other lanes",
                        soft_wrap=True,
                    )
                    return

        self._thread = threading.Thread(target=start_all, name="golive-lane-stacks", daemon=True)
        self._thread.start()

    def started(self) -> list[Stack]:
        if self._thread is not None:
            self._thread.join()
        return list(self._stacks)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        for stack in reversed(self._stacks):
            stack.close()
        self._stacks.clear()
