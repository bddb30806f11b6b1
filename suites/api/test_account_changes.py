"""A token is only as good as its account: once the account is deactivated or deleted its tokens
are refused (401), once an administrator is demoted their token administers nothing (403), at
once and on every replica. The accounts are changed in the database directly, as an operator
would (there is no API for it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import Credentials, StackDescription
from golive.fixtures.operations import create_users
from golive.fixtures.stack import mint_token

from .conftest import bearer

NewUser = Callable[..., tuple[Credentials, str]]


@pytest.fixture
def change_account(golive_stack_description: StackDescription) -> Callable[[str, str], None]:
    """Runs `sql` (one %s: the username) against the stack's database."""
    dsn = golive_stack_description.postgres
    if dsn is None:
        pytest.skip("changing an account needs the stack's database")

    def change(sql: str, username: str) -> None:
        with psycopg.connect(dsn) as connection:
            assert connection.execute(sql.encode(), (username,)).rowcount == 1

    return change


def generate(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/api/v1/content/generate", json={"prompt": "osmosis"}, headers=bearer(token))


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["metadata"]["error_code"] == "INVALID_TOKEN"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_deactivated_users_token_is_refused(
    golive_http: httpx.Client, new_user: NewUser, change_account: Callable[[str, str], None]
) -> None:
    credentials, token = new_user()
    assert golive_http.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    change_account("UPDATE users SET is_active = false WHERE username = %s", credentials.username)
    assert_refused(golive_http.get("/api/v1/auth/me", headers=bearer(token)))
    assert_refused(generate(golive_http, token))


def test_a_deleted_users_token_is_refused_not_a_server_error(
    golive_http: httpx.Client, new_user: NewUser, change_account: Callable[[str, str], None]
) -> None:
    credentials, token = new_user()
    assert golive_http.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    change_account("DELETE FROM users WHERE username = %s", credentials.username)
    assert_refused(golive_http.get("/api/v1/auth/me", headers=bearer(token)))
    assert_refused(generate(golive_http, token))  # was a 500: the job's user no longer exists


def test_a_demoted_administrator_administers_nothing(
    golive_http: httpx.Client, new_user: NewUser, change_account: Callable[[str, str], None]
) -> None:
    credentials, token = new_user("admin")
    assert golive_http.get("/api/v1/users", headers=bearer(token)).status_code == 200
    change_account("UPDATE users SET role = 'user' WHERE username = %s", credentials.username)
    refused = golive_http.get("/api/v1/users", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["metadata"]["error_code"] == "FORBIDDEN"
    assert golive_http.get("/api/v1/auth/me", headers=bearer(token)).json()["data"]["role"] == "user"


def test_a_deactivation_holds_on_every_replica(
    golive_database: str, golive_start_backend: BackendFactory
) -> None:
    cluster = golive_start_backend({"DATABASE_URL": golive_database}, replicas=2)
    user = new_credentials(f"replicas-{uuid.uuid4().hex[:8]}")
    user_id = create_users(golive_database, {"user": user})["user"]
    token = mint_token(cluster.env["JWT_SECRET"], user_id, user.username, "user")
    for url in cluster.urls:  # each replica has seen the account active
        assert http_clients.get(f"{url}/api/v1/auth/me", headers=bearer(token), timeout=30).status_code == 200
    with psycopg.connect(golive_database) as connection:
        connection.execute("UPDATE users SET is_active = false WHERE id = %s", (user_id,))
    for url in cluster.urls:
        assert_refused(http_clients.get(f"{url}/api/v1/auth/me", headers=bearer(token), timeout=30))
