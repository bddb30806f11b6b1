"""User accounts: the one place users are created, from the API, the management command or a harness."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import User
from .envelope import ApiError, ErrorCode
from .security import Role, hash_password


async def create_user(
    session: AsyncSession, username: str, password: str, role: Role = Role.USER, email: str | None = None
) -> User:
    user = User(
        username=username, email=email, hashed_password=await hash_password(password), role=role.value
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ApiError(409, f"User {username!r} already exists", ErrorCode.CONFLICT) from error
    await session.refresh(user)
    return user


async def list_users(session: AsyncSession, limit: int, offset: int) -> list[User]:
    result = await session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
    return list(result)
