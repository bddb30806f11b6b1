"""A Locust run as golive drives it: Locust headless in processes of its own (one, or a master and
N workers in Locust's distributed mode, as it would run across machines), live progress from its
per-second history, the breakers watched beside it, and the results read back, judged against
the profile's thresholds (and compared with an earlier run's, when one is given), and written as
one document and one timeline (golive.core.load_evidence).

Locust is only ever a subprocess: importing it patches the whole interpreter (gevent).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from golive.core.load_evidence import (
    BASELINE_FILE,
    LOAD_FILE,
    TIMELINE_FILE,
    EndpointFigures,
    GeneratorCpu,
    LoadProfile,
    LoadRecord,
    Machine,
    ThresholdOutcome,
    TimelineEvent,
    TimelineRecord,
    TimelineSecond,
)
from golive.core.load_regression import Regression, compare
from golive.fixtures.network import LOOPBACK, free_port
from golive.fixtures.processes import ChildProcess
from golive.loadtests.profiles import Profile
from golive.loadtests.results import ResultsError, RunStats, Second, read_history, read_stats
from golive.loadtests.thresholds import Verdict, evaluate_all

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PREFIX = "locust"  # locust_stats.csv, locust_stats_history.csv, ...
GRACE_SECONDS = 60.0  # beyond the run time: spawning, the stop timeout, writing the reports
POLL_SECONDS = 0.25


class LoadError(RuntimeError):
    """The run itself failed (Locust did not start, crashed, or wrote nothing)."""


@dataclass
class BreakerChange:
    at: float  # epoch seconds
    breaker: str
    state: str


class BreakerWatcher(threading.Thread):
    """Polls `/circuit-breakers/status` and keeps each change of state: the breaker line of the
    timeline. A missed sample is no error: under load or faults the backend may not answer."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="breaker-watcher", daemon=True)
        self.base_url = base_url
        self.changes: list[BreakerChange] = []
        self._states: dict[str, str] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while not self._stopped.wait(POLL_SECONDS):
                try:
                    breakers = client.get("/circuit-breakers/status").json()["data"]["breakers"]
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    continue
                for name, status in breakers.items():
                    if self._states.get(name) != status["state"]:
                        self._states[name] = status["state"]
                        self.changes.append(BreakerChange(round(time.time(), 3), name, status["state"]))

    def stop(self) -> None:
        self._stopped.set()
        self.join(10)


@dataclass
class GeneratorLoad:
    """Locust's own CPU, all its processes together, in % of one core."""

    samples: list[float] = field(default_factory=list)

    @property
    def average(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else None

    @property
    def peak(self) -> float | None:
        return round(max(self.samples), 1) if self.samples else None


@dataclass
class LoadResult:
    run_id: str  # the run directory's name
    profile: Profile
    machine: Machine
    backends: int
    workers: int
    stats: RunStats
    history: list[Second]
    verdicts: list[Verdict]
    breakers: list[BreakerChange]
    generator: GeneratorLoad
    events: list[dict[str, Any]] = field(default_factory=list)  # e.g. a chaos experiment's
    exit_code: int = 0  # Locust's
    baseline: LoadRecord | None = None  # an earlier run to compare with (--baseline)

    @property
    def ok(self) -> bool:
        """Every threshold held (what load.json's `ok` says: a later run may take it as baseline)."""
        return all(verdict.ok for verdict in self.verdicts)

    @property
    def regression(self) -> Regression:
        return compare(self.document(), self.baseline)

    @property
    def passed(self) -> bool:
        """Every threshold held and no endpoint regressed against the baseline."""
        return self.ok and not self.regression.regressed

    def document(self) -> LoadRecord:
        return LoadRecord(
            run_id=self.run_id,
            # The record's own type, as reading it back gives it (not the Profile subclass).
            profile=LoadProfile.model_validate(self.profile.model_dump()),
            machine=self.machine,
            backends=self.backends,
            ok=self.ok,
            locust_workers=self.workers,
            workers_reporting=self.stats.workers,
            duration_seconds=round(self.stats.duration, 2),
            total=self.stats.select().summary(),
            groups={group: self.stats.select(group=group).summary() for group in self.stats.groups},
            endpoints={
                endpoint.name: EndpointFigures(
                    **self.stats.select(name=endpoint.name).summary().model_dump(),
                    group=endpoint.group,
                    expects_throttle=endpoint.expects_throttle,
                    throttled=endpoint.throttled,
                )
                for endpoint in self.stats.endpoints
            },
            thresholds=[
                ThresholdOutcome(threshold=v.threshold.source, ok=v.ok, observed=v.observed, detail=v.detail)
                for v in self.verdicts
            ],
            generator_cpu_percent=GeneratorCpu(average=self.generator.average, peak=self.generator.peak),
        )

    def timeline(self) -> TimelineRecord:
        """One row per second: load, latency, errors, and the breakers' states at that second;
        then every event (breaker changes, faults) at its time, all on the run's clock."""
        start = self.history[0].at if self.history else int(time.time())
        states: dict[str, str] = {}
        changes = sorted(self.breakers, key=lambda change: change.at)
        rows = []
        for second in self.history:
            while changes and changes[0].at < second.at + 1:
                change = changes.pop(0)
                states[change.breaker] = change.state
            rows.append(TimelineSecond(t=second.at - start, **asdict(second), breakers=dict(states)))
        events = [
            TimelineEvent(
                t=round(change.at - start, 3), kind="breaker", breaker=change.breaker, state=change.state
            )
            for change in self.breakers
        ]
        events += [TimelineEvent(**{**event, "t": round(event["at"] - start, 3)}) for event in self.events]
        return TimelineRecord(
            started_at=start, seconds=rows, events=sorted(events, key=lambda event: event.t)
        )

    def write(self, directory: Path) -> Path:
        """load.json and timeline.json, and the baseline compared with (a stale one removed: a
        run directory may be reused). Returns load.json's path."""
        baseline = directory / BASELINE_FILE
        baseline.unlink(missing_ok=True)
        if self.baseline is not None:
            self.baseline.write(baseline)
        self.timeline().write(directory / TIMELINE_FILE)
        return self.document().write(directory / LOAD_FILE)


class LocustRun:
    def __init__(
        self,
        profile: Profile,
        hosts: list[str],
        accounts_file: Path,
        out_dir: Path,
        log_dir: Path,
        *,
        workers: int = 0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if not hosts:
            raise ValueError("no host to load")
        self.profile = profile
        self.hosts = hosts
        self.accounts_file = accounts_file
        self.out_dir = out_dir
        self.log_dir = log_dir
        self.workers = workers
        self.extra_args = extra_args  # more of Locust's options (the capacity benchmark's --reset-stats)
        self.processes: list[ChildProcess] = []
        self.generator = GeneratorLoad()

    @property
    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GOLIVE_LOAD_HOSTS": ",".join(self.hosts),
            "GOLIVE_LOAD_ACCOUNTS": str(self.accounts_file),
            "GOLIVE_LOAD_WEIGHTS": json.dumps(self.profile.journeys),
            "GOLIVE_LOAD_WORKERS": str(max(1, self.workers)),
            "PYTHONUNBUFFERED": "1",
        }

    def _argv(self, *role: str) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *role]

    def start(self) -> LocustRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (*self.out_dir.glob(f"{PREFIX}_*.csv"), self.out_dir / "stats.json"):
            stale.unlink(missing_ok=True)  # a reused run directory: only this run's results count
        self.log_dir.mkdir(parents=True, exist_ok=True)
        profile = self.profile
        headless = [
            "--headless",
            "--users", str(profile.users),
            "--spawn-rate", str(profile.spawn_rate),
            "--run-time", f"{int(profile.seconds)}s",
            "--stop-timeout", "5",
            "--csv", str(self.out_dir / PREFIX),
            "--csv-full-history",
            "--html", str(self.out_dir / "report.html"),
            "--json-file", str(self.out_dir / "stats"),
            "--only-summary",
            # Failures are for the thresholds to judge, not for Locust's exit code.
            "--exit-code-on-error", "0",
            *self.extra_args,
        ]  # fmt: skip
        if not self.workers:
            self._spawn("locust", self._argv(*headless))
            return self
        port = free_port()
        master = [
            "--master",
            "--master-bind-host", LOOPBACK,
            "--master-bind-port", str(port),
            "--expect-workers", str(self.workers),
            "--expect-workers-max-wait", "30",
        ]  # fmt: skip
        self._spawn("locust-master", self._argv(*headless, *master))
        for index in range(self.workers):
            worker = ["--worker", "--master-host", LOOPBACK, "--master-port", str(port)]
            self._spawn(f"locust-worker-{index}", self._argv(*worker))
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        process = ChildProcess(
            name, argv, log_path=self.log_dir / f"{name}.log", env=self._env, cwd=self.out_dir
        )
        self.processes.append(process.start())

    @property
    def main(self) -> ChildProcess:
        return self.processes[0]

    def wait(self, progress: Callable[[Second], None] = lambda second: None) -> int:
        """Until Locust ends (or the run time plus a grace period passes: then it is stopped),
        reporting each new second of its history. Returns Locust's exit code."""
        deadline = time.monotonic() + self.profile.seconds + GRACE_SECONDS
        history = self.out_dir / f"{PREFIX}_stats_history.csv"
        reported = 0
        processes = {child.pid: psutil.Process(child.pid) for child in self.processes}
        while self.main.exit_code() is None:
            if time.monotonic() > deadline:
                self.stop()
                raise LoadError(f"Locust did not finish within {self.profile.seconds + GRACE_SECONDS:.0f} s")
            self._sample_cpu(processes)
            if history.exists():
                seconds = read_history(history)
                for second in seconds[reported:]:
                    progress(second)
                reported = max(reported, len(seconds))
            time.sleep(POLL_SECONDS)
        code = self.main.exit_code()
        assert code is not None
        return code

    def _sample_cpu(self, processes: Mapping[int, psutil.Process]) -> None:
        total = 0.0
        for process in processes.values():
            try:
                # Since the previous call on the same object; the first call says 0.
                total += process.cpu_percent(None)
            except psutil.Error:
                continue
        if total:
            self.generator.samples.append(total)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=15)

    def result(
        self,
        exit_code: int,
        breakers: list[BreakerChange],
        events: list[dict[str, Any]],
        baseline: LoadRecord | None = None,
    ) -> LoadResult:
        if exit_code not in (0, 1):
            tail = self.main.log_tail(8)
            raise LoadError(f"Locust exited with {exit_code}:\n{tail}")
        try:
            stats = read_stats(self.out_dir / "stats.json")
            history = read_history(self.out_dir / f"{PREFIX}_stats_history.csv")
        except ResultsError as error:
            raise LoadError(f"{error}\n{self.main.log_tail(8)}") from None
        return LoadResult(
            run_id=self.out_dir.parent.name,
            profile=self.profile,
            machine=Machine.here(),
            backends=len(self.hosts),
            workers=self.workers,
            stats=stats,
            history=history,
            verdicts=evaluate_all(self.profile.parsed_thresholds(), stats),
            breakers=breakers,
            generator=self.generator,
            events=events,
            exit_code=exit_code,
            baseline=baseline,
        )


@contextmanager
def locust_run(
    profile: Profile, hosts: list[str], accounts_file: Path, out_dir: Path, log_dir: Path, workers: int = 0
) -> Iterator[LocustRun]:
    run = LocustRun(profile, hosts, accounts_file, out_dir, log_dir, workers=workers)
    try:
        yield run.start()
    finally:
        run.stop()
