"""Which extra of pyproject.toml brings a missing module: a command that needs one says so in one
line (`pip install 'golive[load]'`), and `golive --help` still lists every command."""

from __future__ import annotations

import importlib.util
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


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The line naming the extra that brings the missing module, or None if no extra does."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return f"this needs golive[{extra}] (no module named {module!r}): pip install 'golive[{extra}]'"


def require(module: str) -> None:
    """Raises the ModuleNotFoundError `import module` would, without importing it (Locust must not
    be imported by golive's own process: gevent patches the process that imports it)."""
    absent = module in sys.modules and sys.modules[module] is None
    if absent or importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
