"""The stages of `golive validate`, each against the stack (or a deployment) and writing its
evidence into the run directory, where the report reads it: the guide's health checks, the
suites, the migration and rollback drills, a chaos subset, a load profile; and the environment.

A stage says what it did in one line (name, detail, seconds, passed). Stages that cannot run
against a deployment are not run there; the report marks their gates n/a.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

from golive import __version__
from golive.chaos.experiment import library
from golive.chaos.experiment import load as load_experiment
from golive.chaos.runner import Runner
from golive.chaos.targets import dedicated_target
from golive.drills.data import Sizes
from golive.drills.migration import DEFAULT_MAX_LOCK_MS
from golive.drills.runner import DrillRun, select, stack_database
from golive.fixtures.description import StackDescription
from golive.fixtures.stack import FUNCTIONAL_HEADROOM, Stack
from golive.loadtests.accounts import accounts_from_environment, create_accounts
from golive.loadtests.profiles import DEFAULT_FILE as PROFILES_FILE
from golive.loadtests.profiles import Profile, load_profile
from golive.loadtests.results import Second
from golive.loadtests.run import BreakerWatcher, locust_run
from golive.redaction import redact
from golive.suite_runs import API, CONTRACT, GUIDE, REALTIME, RESILIENCE, SECURITY, Suite, run_suite
from golive.system_under_test.settings import Settings

HEALTH_PATHS = ("/health", "/resilience/status", "/circuit-breakers/status", "/pusher/status")
LIBRARIES = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "redis",
    "pydantic",
    "locust",
    "pusher",
)
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN")


@dataclass(frozen=True)
class Plan:
    """What a validation runs: --quick for a few minutes on a small machine, or the full one."""

    mode: str
    suites: tuple[Suite, ...]
    drills: tuple[str, ...]
    drill_sizes: Sizes
    chaos_tag: str | None  # None: the whole library
    load_profile: str

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                "quick",
                (CONTRACT, API, REALTIME, GUIDE, SECURITY),
                ("migration", "rollback"),
                Sizes(users=200, content=2_000, agent_metrics=20),
                "fast",
                "smoke",
            )
        return cls(
            "full", (CONTRACT, API, REALTIME, GUIDE, RESILIENCE, SECURITY), ("migration", "rollback"),
            Sizes(), None, "baseline",
        )  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    name: str
    detail: str
    seconds: float
    ok: bool


Report = Callable[[Outcome], None]


@contextmanager
def _timed(name: str, report: Report) -> Iterator[dict[str, Any]]:
    """Times a stage; the body fills `detail` and `ok` (a stage that raises failed)."""
    result: dict[str, Any] = {"detail": "", "ok": False}
    started = time.perf_counter()
    try:
        yield result
    except Exception as error:
        result["detail"], result["ok"] = f"{type(error).__name__}: {error}", False
        raise
    finally:
        report(Outcome(name, result["detail"], round(time.perf_counter() - started, 1), bool(result["ok"])))


def check_health(url: str, run_dir: Path, report: Report) -> bool:
    """The guide's 6.2: every health endpoint answers 200 with the success envelope."""
    with _timed("health", report) as stage:
        checks = [_check(url, path) for path in HEALTH_PATHS]
        (run_dir / "health.json").write_text(json.dumps({"url": redact(url), "checks": checks}, indent=2))
        problems = [f"{check['path']}: {check['problem']}" for check in checks if check["problem"]]
        stage["ok"] = not problems
        stage["detail"] = "; ".join(problems) or ", ".join(f"{c['path']} {c['status_code']}" for c in checks)
    return bool(stage["ok"])


def _check(url: str, path: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        response = httpx.get(f"{url}{path}", timeout=10)
    except httpx.HTTPError as error:
        return {"path": path, "status_code": None, "state": None, "ms": None, "problem": redact(str(error))}
    ms = round((time.perf_counter() - started) * 1000, 1)
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = None
    if response.status_code != 200:
        problem = f"HTTP {response.status_code}"
    elif not isinstance(body, dict) or body.get("status") != "success" or "metadata" not in body:
        problem = "not the success envelope"
    data = body.get("data") if isinstance(body, dict) else None
    state = data.get("status") if isinstance(data, dict) else None
    return {"path": path, "status_code": response.status_code, "state": state, "ms": ms, "problem": problem}


def run_suites(plan: Plan, stack_file: Path, run_dir: Path, report: Report) -> bool:
    ok = True
    for suite in plan.suites:
        result = run_suite(suite, stack_file, run_dir)
        report(Outcome(suite.name, result.summary(), result.seconds, result.ok))
        ok = ok and result.ok
    return ok


def run_drills(
    plan: Plan, stack: Stack, run_dir: Path, report: Report, progress: Callable[[str], None]
) -> bool:
    ok = True
    for drill in select(list(plan.drills)):
        with _timed(f"drill {drill.name}", report) as stage, stack_database(stack, drill.name) as database:
            run = DrillRun(
                database,
                stack,
                run_dir / "drills" / drill.name,
                plan.drill_sizes,
                DEFAULT_MAX_LOCK_MS,
                progress=progress,
            )
            result = drill.run(run)
            result.write(run_dir)
            checks = [check for step in result.steps for check in step.checks]
            stage["ok"] = result.ok
            stage["detail"] = f"{sum(c.ok for c in checks)}/{len(checks)} checks" + (
                f"; {result.failures[0]}" if result.failures else ""
            )
        ok = ok and result.ok
    return ok


def run_chaos(plan: Plan, stack: Stack, run_dir: Path, report: Report, seed: int | None = None) -> bool:
    experiments = [load_experiment(path) for path in library()]
    chosen = [e for e in experiments if plan.chaos_tag is None or plan.chaos_tag in e.tags]
    ok = True
    for experiment in chosen:
        with _timed(f"chaos {experiment.name}", report) as stage:
            with dedicated_target(stack, experiment) as target:
                journal = Runner(experiment, target, seed).run()
            journal.write(run_dir / "chaos" / f"{experiment.name}-1.json")
            failed = [check for check in journal.checks if not check.ok]
            stage["ok"] = journal.held
            stage["detail"] = journal.outcome + (f"; {failed[0].name}: {failed[0].detail}" if failed else "")
        ok = ok and journal.held
    return ok


def run_load(
    plan: Plan,
    run_dir: Path,
    report: Report,
    progress: Callable[[Second], None],
    *,
    stack: Stack | None = None,
    deployment: StackDescription | None = None,
) -> bool:
    """The plan's profile against backends of its own on the stack (the profile's replicas and
    settings: the guide's rate limits, not the functional suites' headroom), or the deployment."""
    profile = load_profile(plan.load_profile, PROFILES_FILE)
    with (
        _timed(f"load {profile.name}", report) as stage,
        _load_hosts(profile, stack, deployment) as (hosts, dsn),
    ):
        accounts = (
            create_accounts(dsn, profile.account_count, f"validate-{run_dir.name[-4:]}")
            if dsn is not None
            else accounts_from_environment(os.environ)
        )
        accounts_file = accounts.write(run_dir / "load-accounts.json")
        watcher = BreakerWatcher(hosts[0])
        watcher.start()
        try:
            with locust_run(profile, hosts, accounts_file, run_dir / "load", run_dir / "logs") as locust:
                code = locust.wait(progress)
                watcher.stop()
                result = locust.result(code, watcher.changes, [])
        finally:
            watcher.stop()
        result.write(run_dir / "load")
        total = result.document()["total"]
        held = sum(verdict.ok for verdict in result.verdicts)
        stage["ok"] = result.ok
        stage["detail"] = (
            f"{held}/{len(result.verdicts)} thresholds; {total['requests_per_second']} req/s, "
            f"p95 {total['p95_ms']} ms, {total['failures']} failed"
        )
    return result.ok


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


def record_environment(run_dir: Path, stack: Stack | None, deployment: StackDescription | None) -> None:
    """Versions, commit, settings in effect (secrets masked) and machine facts: environment.json."""
    memory = psutil.virtual_memory().total
    environment: dict[str, Any] = {
        "golive": __version__,
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }
    if stack is not None:
        description = stack.describe()
        environment["provider"] = description.provider
        environment["services"] = description.services
        environment["postgres_server"] = _postgres_version(stack)
        environment["redis_server"] = _redis_version(description.redis)
        environment["settings"] = masked_settings(stack.sut_env)
        environment["backend_replicas"] = len(description.sut_replicas)
    elif deployment is not None:
        environment["target"] = redact(deployment.sut)
        environment["settings"] = {"(not visible)": "the settings of a deployment are its own"}
    (run_dir / "environment.json").write_text(json.dumps(environment, indent=2))


def masked_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The backend's settings as it got them: secrets masked, passwords out of URLs."""
    names = {name.upper() for name in Settings.model_fields}
    return {
        name: "***" if any(word in name for word in _SECRET_WORDS) else redact(value)
        for name, value in sorted(env.items())
        if name in names
    }


def _git_commit() -> str | None:
    git = shutil.which("git")
    root = Path(__file__).resolve().parent.parent
    if git is None or not (root / ".git").exists():
        return None
    head = subprocess.run(
        [git, "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return None
    dirty = subprocess.run(
        [git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _postgres_version(stack: Stack) -> str | None:
    try:
        with psycopg.connect(stack.app_dsn, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def _redis_version(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        with redis.Redis.from_url(url, socket_timeout=5) as client:
            return str(client.info("server").get("redis_version"))
    except redis.RedisError:
        return None
