"""No secret of the backend's (the JWT secret, the Pusher secret, the database password) appears
in what it answers or what it logs, whatever is asked and however a request fails; and none is
built into it: the JWT secret is the deployment's own, or the backend does not start."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import PusherCredentials, StackDescription
from golive.fixtures.network import NotReady
from golive.fixtures.stack import StackHandle

PUBLIC = [
    "/health",
    "/resilience/status",
    "/resilience/config",
    "/rate-limit/config",
    "/circuit-breakers/status",
    "/pusher/status",
    "/metrics",
    "/openapi.json",
]
ADMIN = ["/resilience/metrics", "/rate-limit/usage/user-1", "/api/v1/users"]
FAILING: list[tuple[str, str, dict[str, str], dict[str, object] | None]] = [
    ("GET", "/api/v1/auth/me", {"Authorization": "Bearer not.a.token"}, None),
    ("POST", "/api/v1/auth/token", {}, {"username": "nobody", "password": "wrong"}),
    ("POST", "/api/v1/content/generate", {}, {"prompt": ""}),
    ("POST", "/pusher/webhook", {"X-Pusher-Key": "k", "X-Pusher-Signature": "0" * 64}, {"events": []}),
    ("GET", "/nowhere", {}, None),
]


@pytest.fixture(scope="module")
def secrets_of_the_backend(
    golive_stack_description: StackDescription, golive_pusher_credentials: PusherCredentials
) -> dict[str, str]:
    assert golive_stack_description.jwt_secret is not None
    assert golive_stack_description.postgres is not None
    password = urlsplit(golive_stack_description.postgres).password
    assert password
    return {
        "JWT secret": golive_stack_description.jwt_secret.get_secret_value(),
        "Pusher secret": golive_pusher_credentials.secret,
        "database password": password,
    }


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_endpoints_hold_no_secret(
    golive_http: httpx.Client, path: str, secrets_of_the_backend: dict[str, str]
) -> None:
    response = golive_http.get(path)
    assert response.status_code == 200
    assert leaks(response.text, secrets_of_the_backend) == []


@pytest.mark.parametrize("path", ADMIN)
def test_admin_endpoints_hold_no_secret(
    golive_http: httpx.Client, golive_admin_token: str, path: str, secrets_of_the_backend: dict[str, str]
) -> None:
    response = golive_http.get(path, headers={"Authorization": f"Bearer {golive_admin_token}"})
    assert response.status_code == 200, response.text
    assert leaks(response.text, secrets_of_the_backend) == []


@pytest.mark.parametrize(("method", "path", "headers", "body"), FAILING)
def test_error_bodies_hold_no_secret(
    golive_http: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, object] | None,
    secrets_of_the_backend: dict[str, str],
) -> None:
    response = golive_http.request(method, path, headers=headers, json=body)
    assert response.status_code >= 400
    assert leaks(response.text, secrets_of_the_backend) == []


def test_the_backends_logs_hold_no_secret(
    golive_stack: StackHandle,
    golive_http: httpx.Client,
    golive_user_token: str,
    secrets_of_the_backend: dict[str, str],
) -> None:
    """Neither the backend's secrets nor what clients authenticate with: whoever reads the logs
    must not be able to act as a user."""
    for method, path, headers, body in FAILING:
        golive_http.request(method, path, headers=headers, json=body)
    password = f"attempted-{uuid.uuid4().hex}"
    golive_http.post("/api/v1/auth/token", json={"username": "nobody", "password": password})
    assert golive_http.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {golive_user_token}"}
    ).is_success
    of_clients = {"a user's bearer token": golive_user_token, "a password sent to log in": password}
    logs = sorted(golive_stack.log_dir.glob("sut-*.log"))
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert "/nowhere" in text  # the requests above were logged: the log is the right one
        assert leaks(text, {**secrets_of_the_backend, **of_clients}) == []


@pytest.mark.parametrize("jwt_secret", [None, "s" * 31], ids=["unset", "short"])
def test_the_backend_does_not_start_without_a_jwt_secret_of_its_own(
    golive_start_backend: BackendFactory, jwt_secret: str | None
) -> None:
    # A default secret is in the source for anyone to read, and so are the tokens it would sign:
    # a deployment that forgot JWT_SECRET (or gave a guessable one) must fail at start-up, saying so.
    env = {} if jwt_secret is None else {"JWT_SECRET": jwt_secret}
    with pytest.raises(NotReady, match="exited") as refused:
        golive_start_backend(env, unset=["JWT_SECRET"] if jwt_secret is None else [], timeout=30)
    assert "JWT_SECRET" in str(refused.value)  # the end of its log: why it did not start
