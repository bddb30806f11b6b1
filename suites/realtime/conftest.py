from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from golive.core import http_clients
from golive.fixtures.description import PusherCredentials
from golive.fixtures.node import NodeProject, node_for

from .driver import NODE_DIR, ClientFactory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str

    @property
    def pusher_id(self) -> str:
        """How Pusher knows the user: the backend signs its id as a string."""
        return str(self.id)


def whoami(sut_url: str, token: str) -> Account:
    response = http_clients.get(f"{sut_url}/api/v1/auth/me", headers=bearer(token), timeout=30)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return Account(id=data["id"], username=data["username"], role=data["role"])


@pytest.fixture(scope="session")
def user_account(golive_sut_url: str, golive_user_token: str) -> Account:
    return whoami(golive_sut_url, golive_user_token)


@pytest.fixture(scope="session")
def admin_account(golive_sut_url: str, golive_admin_token: str) -> Account:
    return whoami(golive_sut_url, golive_admin_token)


@pytest.fixture(scope="session")
def node() -> NodeProject:
    return node_for(NODE_DIR, "pusher-js")


@pytest.fixture
def pusher_js(
    node: NodeProject, golive_pusher_credentials: PusherCredentials, golive_sut_url: str, tmp_path: Path
) -> Iterator[ClientFactory]:
    """Starts pusher-js clients connected to the stack's emulator and authorized by its backend;
    all of them are disconnected (or killed) after the test."""
    factory = ClientFactory(
        node,
        {
            "key": golive_pusher_credentials.key,
            "wsHost": golive_pusher_credentials.host,
            "wsPort": golive_pusher_credentials.port,
            "sut": golive_sut_url.rstrip("/"),
        },
        tmp_path,
    )
    try:
        yield factory
    finally:
        factory.close_all()
