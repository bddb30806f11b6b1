"""The environment stage's evidence, `environment.json`: what was validated, with what and where
(versions, commit, the backend and its settings with secrets masked, machine facts), for the report
to show beside the verdict. Written with these types and read back with the same ones (`read`,
golive.core.records); it lives here because the report may not import the stages.
"""

from __future__ import annotations

from typing import ClassVar

from golive.core.records import Record

ENVIRONMENT_FILE = "environment.json"


class EnvironmentRecord(Record):
    evidence: ClassVar[str] = "the environment"
    # Files written before this type lack the backend (named since `--app`) and held the facts of
    # a stack or of a deployment, not both.
    added_later: ClassVar[frozenset[str]] = frozenset(
        {
            "backend",
            "backend_command",
            "backend_image",
            "migrate_command",
            "provider",
            "services",
            "postgres_server",
            "redis_server",
            "backend_replicas",
            "target",
        }
    )

    golive: str
    python: str
    git_commit: str | None  # None outside a checkout
    os: str
    cpus: int | None
    memory_gib: float
    libraries: dict[str, str | None]  # None: not installed
    backend: str | None = None  # the backend validated: PACKAGE.main:app
    backend_command: str | None = None  # how its replicas were started (--backend-cmd); None: uvicorn
    backend_image: str | None = None  # or which image served them (--image)
    migrate_command: str | None = None  # how its databases were migrated (--migrate-cmd); None: Alembic
    settings: dict[str, str]  # the backend's settings as it got them, secrets masked
    # A stack golive started (None against a deployment):
    provider: str | None = None
    services: dict[str, str] | None = None
    postgres_server: str | None = None
    redis_server: str | None = None
    backend_replicas: int | None = None
    target: str | None = None  # a deployment's URL (redacted); None for a stack
