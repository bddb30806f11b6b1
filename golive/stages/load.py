"""The load stage: a Locust profile against backends (the stack's or a deployment's), its
thresholds judged and its endpoints compared with a baseline run's (golive.core.load_regression);
CSV, HTML, load.json, a per-second timeline.json and the baseline compared with (baseline.json) in
<run dir>/load/. A chaos experiment may run beside it, its faults shaded on the timeline. Its
Locust workers may run elsewhere: a master here waits for them, and `run_worker` is one of them
on another machine (the run, its thresholds and its evidence are the master's alone)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from golive.chaos.experiment import Experiment
from golive.chaos.journal import Journal
from golive.chaos.runner import Runner
from golive.chaos.runner import Target as ChaosTarget
from golive.core.load_evidence import LoadRecord, TimelineSecond
from golive.fixtures.description import StackDescription
from golive.fixtures.stack import FUNCTIONAL_HEADROOM, Stack
from golive.loadtests.accounts import Accounts, accounts_from_environment, create_accounts
from golive.loadtests.profiles import DEFAULT_FILE as PROFILES_FILE
from golive.loadtests.profiles import Profile, load_profile
from golive.loadtests.run import (
    BreakerWatcher,
    LoadResult,
    LocustWorker,
    MasterBinding,
    WorkerReport,
    locust_run,
)
from golive.stages.outcome import Report, timed

CHAOS_JOIN_SECONDS = 300.0


def accounts_for(profile: Profile, dsn: str | None, run_dir: Path, prefix: str) -> Accounts:
    """Accounts made for the run in the backend's database, or (a deployment's) those of the
    environment."""
    if dsn is None:
        return accounts_from_environment(os.environ)
    return create_accounts(dsn, profile.account_count, f"{prefix}-{run_dir.name[-4:]}")


def run_profile(
    profile: Profile,
    hosts: list[str],
    accounts_file: Path,
    run_dir: Path,
    progress: Callable[[TimelineSecond], None],
    *,
    workers: int = 0,
    master: MasterBinding | None = None,
    beside: tuple[Experiment, ChaosTarget] | None = None,
    baseline: LoadRecord | None = None,
) -> tuple[LoadResult, Path]:
    """The profile's result and its load.json, with the breakers' changes watched on the first
    host, the events of the experiment run beside it, and the baseline run it is compared with.
    Locust's workers: `workers` started here, and `master`'s from elsewhere."""
    out_dir = run_dir / "load"
    watcher = BreakerWatcher(hosts[0])
    watcher.start()
    try:
        with locust_run(
            profile, hosts, accounts_file, out_dir, run_dir / "logs", workers=workers, master=master
        ) as locust:
            chaos = ChaosBeside(*beside, profile) if beside is not None else None
            code = locust.wait(progress)
            events = chaos.finish(out_dir) if chaos is not None else []
            watcher.stop()
            result = locust.result(code, watcher.changes, events, baseline)
    finally:
        watcher.stop()
    return result, result.write(out_dir)


def run_worker(
    master_host: str,
    master_port: int,
    timeout: float,
    run_dir: Path,
    connected: Callable[[int], None] = lambda index: None,
) -> WorkerReport:
    """One Locust worker for a master elsewhere (`golive load --master`), until the master ends
    the run; WorkerError when it never answers within `timeout` seconds, or goes silent for as
    long. The worker is stopped on the way out, whatever ends it."""
    worker = LocustWorker("locust-worker", master_host, master_port, run_dir / "logs").start()
    try:
        return worker.wait(timeout, connected)
    finally:
        worker.stop()


def run_load(
    profile_name: str,
    run_dir: Path,
    report: Report,
    progress: Callable[[TimelineSecond], None],
    *,
    stack: Stack | None = None,
    deployment: StackDescription | None = None,
    baseline: LoadRecord | None = None,
) -> bool:
    """The profile against backends of its own on the stack (the profile's replicas and
    settings: the guide's rate limits, not the functional suites' headroom), or the deployment;
    compared with the baseline run, when there is one."""
    profile = load_profile(profile_name, PROFILES_FILE)
    with (
        timed(f"load {profile.name}", report) as stage,
        _load_hosts(profile, stack, deployment) as (hosts, dsn),
    ):
        accounts_file = accounts_for(profile, dsn, run_dir, "validate").write(run_dir / "load-accounts.json")
        result, _ = run_profile(profile, hosts, accounts_file, run_dir, progress, baseline=baseline)
        total = result.stats.select().summary()
        held = sum(verdict.ok for verdict in result.verdicts)
        stage["ok"] = result.passed
        stage["detail"] = (
            f"{held}/{len(result.verdicts)} thresholds; {total.requests_per_second} req/s, "
            f"p95 {total.p95_ms} ms, {total.failures} failed; {result.regression.summary}"
        )
    return result.passed


@contextmanager
def _load_hosts(
    profile: Profile, stack: Stack | None, deployment: StackDescription | None
) -> Iterator[tuple[list[str], str | None]]:
    if stack is None:
        assert deployment is not None
        yield deployment.sut_replicas or [deployment.sut], None
        return
    # The functional suites' headroom off again (unless the user set those limits themselves).
    headroom = [name for name in FUNCTIONAL_HEADROOM if name not in os.environ]
    backend = stack.dedicated_backend(f"load-{profile.name}", profile.backend_env, profile.replicas, headroom)
    with backend as (cluster, database):
        yield cluster.urls, database


class ChaosBeside:
    """A chaos experiment run in a thread while the load runs, started once the users are in."""

    def __init__(self, experiment: Experiment, target: ChaosTarget, profile: Profile) -> None:
        self.journal: Journal | None = None
        self.runner = Runner(experiment, target, shared=True)
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
            name, outcome = self.runner.experiment.name, "still running when the load ended"
            return [{"at": time.time(), "kind": "experiment", "name": name, "outcome": outcome}]
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
                "name": self.journal.experiment,
                "outcome": self.journal.outcome,
            }
        )
        return events
