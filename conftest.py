"""TEMPORARY (removed before this change lands): the plugin's old fixture names."""

from __future__ import annotations

from typing import Any

import pytest

_OLD = [
    "stack_description", "sut_url", "admin_credentials", "user_credentials", "admin_token", "user_token",
    "jwt_secret", "http", "upstream", "toxiproxy", "database", "empty_database", "start_backend",
    "pusher_credentials", "pusher_sdk", "start_pusher", "unused_port",
]  # fmt: skip


def _alias(new: str, scope: Any) -> Any:
    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Any:
        return request.getfixturevalue(new)

    return fixture


for _name in _OLD:
    _scope = (
        "session"
        if _name
        in {
            "stack_description",
            "sut_url",
            "admin_credentials",
            "user_credentials",
            "admin_token",
            "user_token",
            "jwt_secret",
            "pusher_credentials",
            "pusher_sdk",
        }
        else "function"
    )
    globals()[_name] = _alias(f"golive_{_name}", _scope)
