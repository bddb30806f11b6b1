"""Tokens and passwords, in process."""

from __future__ import annotations

import time

import jwt
import pytest

from golive.drills.data import LEGACY_HASH, LEGACY_PASSWORD
from golive.system_under_test.envelope import ApiError
from golive.system_under_test.security import (
    JwtConfig,
    Principal,
    Role,
    decode_token,
    hash_password,
    issue_token,
    verify_password,
)
from golive.system_under_test.settings import Settings


@pytest.fixture
def config(environment: pytest.MonkeyPatch) -> JwtConfig:
    return JwtConfig.from_settings(Settings())


def test_issued_token_decodes_to_the_same_principal(config: JwtConfig) -> None:
    principal = Principal(42, "ada", Role.ADMIN)
    token, expires_in = issue_token(config, principal)
    assert expires_in == 30 * 60
    assert decode_token(config, token) == principal


def test_expired_token_is_token_expired(config: JwtConfig) -> None:
    now = int(time.time())
    claims = {"sub": "1", "name": "a", "role": "user", "iat": now - 100, "nbf": now - 100, "exp": now - 50}
    token = jwt.encode(claims, config.secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(ApiError) as caught:
        decode_token(config, token)
    assert caught.value.status_code == 401
    assert caught.value.error_code == "TOKEN_EXPIRED"


def test_non_numeric_subject_is_invalid(config: JwtConfig) -> None:
    now = int(time.time())
    claims = {"sub": "ada", "name": "a", "role": "user", "iat": now, "nbf": now, "exp": now + 60}
    token = jwt.encode(claims, config.secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(ApiError) as caught:
        decode_token(config, token)
    assert caught.value.error_code == "INVALID_TOKEN"


async def test_passwords_verify_only_against_their_hash() -> None:
    hashed = await hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert await verify_password(hashed, "correct horse")
    assert not await verify_password(hashed, "wrong horse")
    assert not await verify_password(None, "correct horse")
    assert not await verify_password("not-a-hash", "correct horse")


async def test_new_hashes_use_owasps_parameters_and_older_ones_still_verify() -> None:
    assert (await hash_password("correct horse")).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert LEGACY_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's default
    assert await verify_password(LEGACY_HASH, LEGACY_PASSWORD)
    assert not await verify_password(LEGACY_HASH, "correct horse")
