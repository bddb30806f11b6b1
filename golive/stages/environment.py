"""The environment stage: versions, commit, the backend's settings in effect (secrets masked) and
machine facts, into environment.json for the report."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import psutil
import psycopg
import redis

from golive import __version__
from golive.core.environment_evidence import ENVIRONMENT_FILE, EnvironmentRecord
from golive.core.redaction import redact
from golive.fixtures.backend import Backend, serving_command, serving_image
from golive.fixtures.description import StackDescription
from golive.fixtures.operations import migration_command
from golive.fixtures.stack import Stack

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


def record_environment(run_dir: Path, stack: Stack | None, deployment: StackDescription | None) -> None:
    description = stack.describe() if stack is not None else None
    settings = (
        masked_settings(stack.sut_env)
        if stack is not None
        else {"(not visible)": "the settings of a deployment are its own"}
    )
    EnvironmentRecord(
        golive=__version__,
        python=platform.python_version(),
        git_commit=_git_commit(),
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        cpus=os.cpu_count(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        libraries={name: _version(name) for name in LIBRARIES},
        # Which backend was validated: the reference one, or a team's (--app).
        backend=Backend.current().app,
        backend_command=serving_command() if stack is not None else None,
        backend_image=serving_image() if stack is not None else None,
        migrate_command=migration_command() if stack is not None else None,
        settings=settings,
        provider=description.provider if description else None,
        services=description.services if description else None,
        postgres_server=_postgres_version(stack) if stack else None,
        redis_server=_redis_version(description.redis) if description else None,
        backend_replicas=len(description.sut_replicas) if description else None,
        target=redact(deployment.sut) if stack is None and deployment is not None else None,
    ).write(run_dir / ENVIRONMENT_FILE)


def masked_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The backend's settings as it got them: secrets masked, passwords out of URLs."""
    names = {name.upper() for name in Backend.current().attribute("settings", "Settings").model_fields}
    return {
        name: "***" if any(word in name for word in _SECRET_WORDS) else redact(value)
        for name, value in sorted(env.items())
        if name in names
    }


def _git_commit() -> str | None:
    git = shutil.which("git")
    root = Path(__file__).resolve().parents[2]
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
