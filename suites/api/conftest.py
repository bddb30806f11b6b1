from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from golive.fixtures.clients import login
from golive.fixtures.description import Credentials


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def new_user(golive_http: httpx.Client, golive_admin_token: str) -> Callable[..., tuple[Credentials, str]]:
    """Creates a user through the admin API; returns its credentials and a token."""

    def create(role: str = "user") -> tuple[Credentials, str]:
        credentials = Credentials(username=f"t-{uuid.uuid4().hex[:12]}", password=uuid.uuid4().hex)
        response = golive_http.post(
            "/api/v1/users",
            json={**credentials.model_dump(), "role": role},
            headers=bearer(golive_admin_token),
        )
        assert response.status_code == 201, response.text
        return credentials, login(str(golive_http.base_url).rstrip("/"), credentials)

    return create
