"""In-process tests of the backend's parts: settings, envelope, middleware, tokens."""

from __future__ import annotations

import pytest

REQUIRED_ENV = {
    "DATABASE_URL": "postgresql://user:pass@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "JWT_SECRET": "s" * 40,
    "PUSHER_APP_ID": "123456",
    "PUSHER_KEY": "key",
    "PUSHER_SECRET": "pusher-secret-value-7f3a",
    "AI_SERVICE_URL": "http://127.0.0.1:9",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> pytest.MonkeyPatch:
    """A clean environment holding the required variables only; no stray .env is read."""
    import os

    for name in list(os.environ):
        if name.isupper() and not name.startswith(("PATH", "HOME", "LANG", "LC_", "PYTHON", "VIRTUAL_ENV")):
            monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(str(tmp_path))
    return monkeypatch
