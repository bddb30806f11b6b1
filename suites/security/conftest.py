"""A backend of the suite's own: what the fuzzer creates, resets and breaks stays there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.operations import create_users
from golive.fixtures.stack import StackHandle, mint_token
from golive.fixtures.sut import SutCluster


@dataclass(frozen=True)
class FuzzedBackend:
    url: str
    tokens: dict[str, str]  # role -> bearer token
    config: dict[str, object]  # the resilience configuration it started with

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


@pytest.fixture(scope="module")
def fuzzed_backend(golive_stack: StackHandle, request: pytest.FixtureRequest) -> Iterator[FuzzedBackend]:
    with golive_stack.scratch_database(migrated=True) as database:
        env = {
            **golive_stack.sut_env,
            "DATABASE_URL": database,
            "REDIS_URL": golive_stack.scratch_redis_url(),
        }
        log_dir = golive_stack.log_dir / "security" / request.module.__name__.rsplit(".", 1)[-1]
        cluster = SutCluster(env, log_dir, golive_stack.run_dir / "sut").start(1)
        try:
            users = {role: new_credentials(f"fuzz-{role}") for role in ("user", "admin")}
            ids = create_users(database, users)
            tokens = {
                role: mint_token(env["JWT_SECRET"], ids[role], users[role].username, role) for role in users
            }
            config = http_clients.get(f"{cluster.urls[0]}/resilience/config", timeout=30).json()["data"]
            yield FuzzedBackend(cluster.urls[0], tokens, config)
        finally:
            cluster.stop()
