"""POST /api/v1/auth/token and GET /api/v1/auth/me."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..db.models import User
from ..db.session import DbSession
from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..fields import StoredText
from ..security import CurrentUser, JwtConfig, Principal, Role, issue_token, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])


class Credentials(BaseModel):
    username: StoredText = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class Me(BaseModel):
    id: int
    username: str
    role: Role


@router.post(
    "/token",
    response_model=Envelope[Token],
    responses={401: {"description": "Wrong username or password"}},
)
async def token(credentials: Credentials, request: Request, session: DbSession) -> object:
    user = await session.scalar(select(User).where(User.username == credentials.username))
    password_ok = await verify_password(user.hashed_password if user else None, credentials.password)
    if user is None or not password_ok or not user.is_active:
        raise ApiError(401, "Invalid username or password", ErrorCode.INVALID_CREDENTIALS)
    config: JwtConfig = request.app.state.jwt_config
    access_token, expires_in = issue_token(config, Principal(user.id, user.username, Role(user.role)))
    return ok(Token(access_token=access_token, expires_in=expires_in), "Token issued")


@router.get("/me", response_model=Envelope[Me], responses={401: {"description": "Not authenticated"}})
async def me(principal: CurrentUser) -> object:
    return ok(Me(id=principal.user_id, username=principal.username, role=principal.role))
