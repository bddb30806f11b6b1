from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.network import wait_until
from golive.fixtures.stack import mint_token, template_accounts
from golive.fixtures.sut import SutCluster

# Small numbers, so a test trips and recovers a breaker in about a second.
TIGHT = {
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD": "2",
    "CIRCUIT_BREAKER_TIMEOUT_SECONDS": "1",
    "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS": "1",
    "RETRY_MAX_ATTEMPTS": "1",
}


@dataclass
class Backend:
    cluster: SutCluster
    user: str
    admin: str

    def client(self, replica: int = 0) -> httpx.Client:
        return http_clients.Client(base_url=self.cluster.urls[replica], timeout=30)

    def generate(self, replica: int = 0, **headers: str) -> httpx.Response:
        with self.client(replica) as client:
            return client.post(
                "/api/v1/content/generate",
                json={"prompt": "photosynthesis"},
                headers={"Authorization": f"Bearer {self.user}", **headers},
            )

    def breaker(self, name: str = "ai-service", replica: int = 0) -> dict[str, object]:
        with self.client(replica) as client:
            response = client.get(f"/circuit-breakers/{name}/status")
        assert response.status_code == 200, response.text
        status: dict[str, object] = response.json()["data"]
        return status

    def wait_for_state(
        self, state: str, *, replica: int = 0, name: str = "ai-service", within: float = 5
    ) -> float:
        """Seconds until the replica reports `state` (at most `within`)."""
        started = time.monotonic()
        wait_until(
            lambda: True if self.breaker(name, replica)["state"] == state else None,
            timeout=within,
            what=f"{name} {state} on replica {replica}",
        )
        return time.monotonic() - started


BackendMaker = Callable[..., Backend]


@pytest.fixture
def backend(golive_database: str, golive_start_backend: BackendFactory) -> BackendMaker:
    """Dedicated replicas on their own Postgres and Redis databases, with TIGHT breaker settings
    unless overridden, and a user and an admin of their own."""

    def make(replicas: int = 1, **env: str) -> Backend:
        cluster = golive_start_backend({"DATABASE_URL": golive_database, **TIGHT, **env}, replicas=replicas)
        # Tokens minted, not logged in for: a test of rate limits must not spend what it counts.
        # The accounts every database cloned from the template has: the test's own, in its database.
        accounts = template_accounts(golive_database)
        secret = cluster.env["JWT_SECRET"]
        tokens = {
            role: mint_token(secret, user_id, username, role)
            for role, (user_id, username) in accounts.items()
        }
        return Backend(cluster, tokens["user"], tokens["admin"])

    return make
