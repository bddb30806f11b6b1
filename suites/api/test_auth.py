"""Tokens: issued for the right password only, honoured while valid, refused in every other shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from golive.fixtures.description import Credentials

from .conftest import bearer

pytestmark = pytest.mark.external_ok


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["metadata"]["error_code"]
    return code


def test_login_issues_a_bearer_token(golive_http: httpx.Client, golive_user_credentials: Credentials) -> None:
    response = golive_http.post("/api/v1/auth/token", json=golive_user_credentials.model_dump())
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["token_type"] == "bearer"
    assert data["expires_in"] > 0
    me = golive_http.get("/api/v1/auth/me", headers=bearer(data["access_token"]))
    assert me.status_code == 200
    assert me.json()["data"]["username"] == golive_user_credentials.username
    assert me.json()["data"]["role"] == "user"


def test_wrong_password_and_unknown_user_are_indistinguishable(
    golive_http: httpx.Client, golive_user_credentials: Credentials
) -> None:
    wrong_password = golive_http.post(
        "/api/v1/auth/token",
        json={"username": golive_user_credentials.username, "password": "not-the-password"},
    )
    unknown_user = golive_http.post(
        "/api/v1/auth/token", json={"username": f"ghost-{uuid.uuid4().hex}", "password": "whatever"}
    )
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert error_code(response) == "INVALID_CREDENTIALS"
    assert wrong_password.json()["message"] == unknown_user.json()["message"]


def test_admin_token_carries_the_admin_role(golive_http: httpx.Client, golive_admin_token: str) -> None:
    assert (
        golive_http.get("/api/v1/auth/me", headers=bearer(golive_admin_token)).json()["data"]["role"]
        == "admin"
    )


def test_admin_creates_a_user_who_can_log_in(
    new_user: Callable[..., tuple[Credentials, str]], golive_http: httpx.Client
) -> None:
    credentials, token = new_user()
    assert (
        golive_http.get("/api/v1/auth/me", headers=bearer(token)).json()["data"]["username"]
        == credentials.username
    )


def test_duplicate_username_is_a_conflict(
    golive_http: httpx.Client, golive_admin_token: str, golive_user_credentials: Credentials
) -> None:
    response = golive_http.post(
        "/api/v1/users",
        json={"username": golive_user_credentials.username, "password": "long-enough-password"},
        headers=bearer(golive_admin_token),
    )
    assert response.status_code == 409
    assert error_code(response) == "CONFLICT"


def test_users_cannot_administer_users(golive_http: httpx.Client, golive_user_token: str) -> None:
    assert golive_http.get("/api/v1/users", headers=bearer(golive_user_token)).status_code == 403
    response = golive_http.post(
        "/api/v1/users",
        json={"username": "sneaky", "password": "long-enough-pw", "role": "admin"},
        headers=bearer(golive_user_token),
    )
    assert response.status_code == 403
    assert error_code(response) == "FORBIDDEN"


def _segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "1",
        "name": "golive-admin",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def test_alg_none_is_refused(golive_http: httpx.Client) -> None:
    token = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_claims())}."
    response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"


def test_rs256_and_hs_rs_confusion_are_refused(golive_http: httpx.Client) -> None:
    """An RS256 token (the attacker's own key pair), and an HS256 token keyed with that public key
    (the classic confusion): the backend pins HS256 and its own secret."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    rs256 = jwt.encode(_claims(), private_key, algorithm="RS256")
    header, payload, _ = jwt.encode(_claims(), "x" * 32, algorithm="HS256").split(".")
    confused = f"{header}.{payload}." + _hmac_segment(public_pem, f"{header}.{payload}")
    for token in (rs256, confused):
        response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert error_code(response) == "INVALID_TOKEN"


def _hmac_segment(key: bytes, signing_input: str) -> str:
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_token_signed_with_another_key_is_refused(golive_http: httpx.Client) -> None:
    token = jwt.encode(_claims(), "an-attacker-chosen-key-of-decent-length!!", algorithm="HS256")
    response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"


def test_tampered_payload_is_refused(golive_http: httpx.Client, golive_user_token: str) -> None:
    header, _payload, signature = golive_user_token.split(".")
    forged = f"{header}.{_segment(_claims(role='admin'))}.{signature}"
    response = golive_http.get("/api/v1/users", headers=bearer(forged))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"


class TestWithTheSigningKey:
    """Tokens signed with the real key but wrong in time or content (needs a stack golive started).
    Each names the stack's real admin (its id and name), so only what is wrong is wrong."""

    @pytest.fixture(autouse=True)
    def _as_the_admin(self, golive_http: httpx.Client, golive_admin_token: str) -> None:
        me = golive_http.get("/api/v1/auth/me", headers=bearer(golive_admin_token)).json()["data"]
        self.admin = {"sub": str(me["id"]), "name": str(me["username"])}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return _claims(**{**self.admin, **overrides})

    def test_expired_token_is_refused_as_expired(
        self, golive_http: httpx.Client, golive_jwt_secret: str
    ) -> None:
        past = int(time.time()) - 3600
        token = jwt.encode(
            self.claims(iat=past, nbf=past, exp=past + 60), golive_jwt_secret, algorithm="HS256"
        )
        response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert error_code(response) == "TOKEN_EXPIRED"

    def test_not_yet_valid_token_is_refused(self, golive_http: httpx.Client, golive_jwt_secret: str) -> None:
        future = int(time.time()) + 3600
        token = jwt.encode(self.claims(nbf=future, exp=future + 600), golive_jwt_secret, algorithm="HS256")
        response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert error_code(response) == "INVALID_TOKEN"

    @pytest.mark.parametrize("missing", ["exp", "sub", "role", "iat", "nbf", "name"])
    def test_token_missing_a_claim_is_refused(
        self, golive_http: httpx.Client, golive_jwt_secret: str, missing: str
    ) -> None:
        token = jwt.encode(self.claims(**{missing: None}), golive_jwt_secret, algorithm="HS256")
        response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert error_code(response) == "INVALID_TOKEN"

    def test_unknown_role_is_refused(self, golive_http: httpx.Client, golive_jwt_secret: str) -> None:
        token = jwt.encode(self.claims(role="superuser"), golive_jwt_secret, algorithm="HS256")
        assert golive_http.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401

    def test_other_hmac_algorithm_than_configured_is_refused(
        self, golive_http: httpx.Client, golive_jwt_secret: str
    ) -> None:
        token = jwt.encode(self.claims(), golive_jwt_secret, algorithm="HS512")
        response = golive_http.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401

    def test_a_valid_forged_admin_token_is_honoured(
        self, golive_http: httpx.Client, golive_jwt_secret: str
    ) -> None:
        # The control case: the refusals above are about the token's shape, not a blanket refusal.
        token = jwt.encode(self.claims(), golive_jwt_secret, algorithm="HS256")
        assert golive_http.get("/api/v1/users", headers=bearer(token)).status_code == 200
