"""The rate limit cannot be walked around by spelling the path differently: once a user's bucket
is empty, no variant of the path (case, trailing slash, doubled or dot segments, percent-encoding,
a query) reaches the resource. (Spoofed X-Forwarded-For and rotating tokens of one user are
covered in suites/resilience/test_rate_limit.py.)"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory
from golive.fixtures.operations import create_users
from golive.fixtures.stack import StackHandle, mint_token

VARIANTS = [
    "/api/v1/auth/me",
    "/API/V1/AUTH/ME",
    "/api/v1/Auth/me",
    "/api/v1/auth/me/",
    "/api/v1//auth/me",
    "/api/v1/./auth/me",
    "/api/v1/x/../auth/me",
    "/api/v1/auth/%6de",
    "/api/v1/auth/me?cache=1",
    "/api/v1/auth/me#fragment",
]


def get(base_url: str, path: str, token: str) -> int:
    """A request with the path exactly as written (http.client does not normalise it)."""
    location = urlsplit(base_url)
    connection = http.client.HTTPConnection(location.hostname or "127.0.0.1", location.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("per_endpoint", ["false", "true"])
def test_no_spelling_of_the_path_gets_past_an_empty_bucket(
    golive_stack: StackHandle, golive_database: str, golive_start_backend: BackendFactory, per_endpoint: str
) -> None:
    backend = golive_start_backend(
        {
            "DATABASE_URL": golive_database,
            "RATE_LIMIT_BURST_SIZE": "3",
            "RATE_LIMIT_REQUESTS_PER_MINUTE": "1",
            "RATE_LIMIT_PER_ENDPOINT": per_endpoint,
        }
    )
    user = new_credentials("bypass")
    user_id = create_users(golive_database, {"user": user})["user"]
    token = mint_token(golive_stack.sut_env["JWT_SECRET"], user_id, user.username, "user")
    base = backend.urls[0]
    assert [get(base, "/api/v1/auth/me", token) for _ in range(3)] == [200, 200, 200]
    answers = {path: get(base, path, token) for path in VARIANTS}
    assert {path: status for path, status in answers.items() if status == 200} == {}
    assert answers["/api/v1/auth/me"] == 429
