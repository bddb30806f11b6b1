"""Administration of user accounts (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from .. import accounts
from ..db.session import DbSession
from ..envelope import Envelope, ok
from ..fields import UtcDatetime
from ..security import ADMIN_ONLY, CurrentAdmin, Role

router = APIRouter(
    prefix="/users",
    tags=["users"],
    responses={401: {"description": "Not authenticated"}, 403: {"description": "Not an administrator"}},
)


class NewUser(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Role = Role.USER
    email: EmailStr | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    role: Role
    is_active: bool
    created_at: UtcDatetime


@router.post(
    "",
    status_code=201,
    response_model=Envelope[UserOut],
    responses={409: {"description": "Exists"}},
    openapi_extra=ADMIN_ONLY,
)
async def create_user(new_user: NewUser, session: DbSession, admin: CurrentAdmin) -> object:
    user = await accounts.create_user(
        session, new_user.username, new_user.password, new_user.role, new_user.email
    )
    return ok(UserOut.model_validate(user), "User created", status_code=201)


@router.get("", response_model=Envelope[list[UserOut]], openapi_extra=ADMIN_ONLY)
async def list_users(
    session: DbSession,
    admin: CurrentAdmin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> object:
    users = await accounts.list_users(session, limit, offset)
    return ok([UserOut.model_validate(user) for user in users])
