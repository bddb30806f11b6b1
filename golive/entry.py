"""The `golive` command's entry point: a missing optional dependency becomes one line that names
the extra bringing it (`pip install 'golive[load]'`), not a traceback."""

from __future__ import annotations

import sys

# Top-level module -> the extra of pyproject.toml that installs it.
EXTRAS = {
    "fastapi": "backend",
    "asyncpg": "backend",
    "jwt": "backend",
    "structlog": "backend",
    "prometheus_client": "backend",
    "sentry_sdk": "backend",
    "argon2": "backend",
    "locust": "load",
    "testcontainers": "docker",
    "docker": "docker",
    "schemathesis": "security",
}


def main() -> None:
    try:
        from golive.cli import main as run

        run()
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        extra = EXTRAS.get(module)
        if extra is None:
            raise
        sys.exit(
            f"golive: this needs golive[{extra}] (no module named {module!r}): pip install 'golive[{extra}]'"
        )
