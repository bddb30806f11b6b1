"""Passwords (argon2id) and bearer tokens (JWT, HMAC), and the FastAPI dependencies that use them."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from .account_standing import AccountStanding
from .envelope import ApiError, ErrorCode
from .settings import Settings

# OWASP's argon2id configuration for a server (Password Storage Cheat Sheet: 19 MiB, 2 passes, one
# lane), not argon2-cffi's default (64 MiB, 3 passes, 4 lanes): one log-in costs ~23 ms of CPU
# instead of ~190, so a burst of log-ins no longer starves every other request of a small
# server's cores. Hashes made with other parameters (older accounts, migrated ones) still verify:
# each hash carries its own.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "sub", "role", "name"]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


async def hash_password(password: str) -> str:
    # argon2 is CPU-bound by design; keep it off the event loop.
    return await anyio.to_thread.run_sync(_hasher.hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(uuid.uuid4().hex)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists, so timing does not reveal usernames."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)


@dataclass(frozen=True)
class JwtConfig:
    """What signing and verifying a bearer token takes, and nothing more: built once from the
    settings by the app, and directly by whoever mints a token without an app (golive's fixtures)."""

    secret: SecretStr
    algorithm: str  # HS256, HS384 or HS512 (Settings.jwt_algorithm): the secret signs and verifies
    lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtConfig:
        lifetime = timedelta(minutes=settings.jwt_expire_minutes)
        return cls(settings.jwt_secret, settings.jwt_algorithm, lifetime)


def issue_token(config: JwtConfig, principal: Principal) -> tuple[str, int]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(principal.user_id),
        "name": principal.username,
        "role": principal.role.value,
        "iat": now,
        "nbf": now,
        "exp": now + config.lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, config.secret.get_secret_value(), algorithm=config.algorithm)
    return token, int(config.lifetime.total_seconds())


def decode_token(config: JwtConfig, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            config.secret.get_secret_value(),
            # One algorithm, pinned: never "none", never whatever the token's header asks for.
            algorithms=[config.algorithm],
            options={"require": _REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as error:
        raise ApiError(401, "Token has expired", ErrorCode.TOKEN_EXPIRED, headers=_CHALLENGE) from error
    except jwt.InvalidTokenError as error:
        raise ApiError(401, "Invalid token", ErrorCode.INVALID_TOKEN, headers=_CHALLENGE) from error
    try:
        return Principal(user_id=int(claims["sub"]), username=str(claims["name"]), role=Role(claims["role"]))
    except (ValueError, TypeError) as error:
        raise ApiError(401, "Invalid token", ErrorCode.INVALID_TOKEN, headers=_CHALLENGE) from error


_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/v1/auth/token")
_DECODED = "golive.decoded_token"


def remember_principal(scope: MutableMapping[str, Any], token: str, principal: Principal) -> None:
    """Middleware that already verified the token leaves the result for the endpoint: one
    signature check per request, not one per reader."""
    scope.setdefault("state", {})[_DECODED] = (token, principal)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise ApiError(401, "Authentication required", ErrorCode.UNAUTHORIZED, headers=_CHALLENGE)
    remembered = request.scope.get("state", {}).get(_DECODED)
    if remembered is not None and remembered[0] == credentials.credentials:
        principal: Principal = remembered[1]
    else:
        config: JwtConfig = request.app.state.jwt_config
        principal = decode_token(config, credentials.credentials)
    # A valid signature says who the account was when the token was issued, not what it is now.
    standing: AccountStanding = request.app.state.account_standing
    role = await standing.role_of(request.app.state.resources.sessionmaker, principal.user_id)
    if role is None:
        raise ApiError(
            401, "The token's account is deactivated or deleted", ErrorCode.INVALID_TOKEN, headers=_CHALLENGE
        )
    return Principal(principal.user_id, principal.username, Role(role))


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "Administrator role required", ErrorCode.FORBIDDEN)
    return principal


# Marks admin-only operations in the OpenAPI document, so clients and contract tests can tell.
ADMIN_ONLY: dict[str, object] = {"x-required-role": "admin"}

CurrentUser = Annotated[Principal, Depends(current_principal)]
CurrentAdmin = Annotated[Principal, Depends(admin_principal)]
