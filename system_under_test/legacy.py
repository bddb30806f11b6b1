"""The backend as it was before the migration: what the guide's emergency rollback restarts
(`git checkout previous-stable-tag`). It knows revision 0001's columns only, answers in the old
format (no envelope), and has none of the resilience features; the rollback drill proves that it
serves from a restored backup. `uvicorn system_under_test.legacy:app`, same environment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .db.session import create_engine
from .envelope import ApiError
from .security import JwtConfig, Principal, Role, decode_token, issue_token, verify_password
from .settings import Settings, load_settings

_bearer = HTTPBearer(auto_error=False)


class Credentials(BaseModel):
    username: str
    password: str


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "Not authenticated")
    try:
        config: JwtConfig = request.app.state.jwt_config
        return decode_token(config, credentials.credentials)
    except ApiError as error:
        raise HTTPException(401, error.message) from None


def create_legacy_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    app = FastAPI(title="golive reference backend (pre-migration)", lifespan=lifespan)
    jwt_config = JwtConfig.from_settings(settings)
    app.state.jwt_config = jwt_config

    @app.get("/health")
    async def health(engine: Annotated[AsyncEngine, Depends(_engine)]) -> dict[str, Any]:
        try:
            async with engine.connect() as connection:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        except SQLAlchemyError as error:
            raise HTTPException(503, f"database unavailable: {type(error).__name__}") from None
        return {"status": "healthy", "database": "ok", "revision": revision}

    @app.post("/api/v1/auth/token")
    async def token(
        credentials: Credentials, engine: Annotated[AsyncEngine, Depends(_engine)]
    ) -> dict[str, Any]:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT id, username, hashed_password, role, is_active FROM users WHERE username = :u"
                    ),
                    {"u": credentials.username},
                )
            ).first()
        password_ok = await verify_password(row.hashed_password if row else None, credentials.password)
        if row is None or not password_ok or not row.is_active:
            raise HTTPException(401, "Incorrect username or password")
        access_token, expires_in = issue_token(jwt_config, Principal(row.id, row.username, Role(row.role)))
        return {"access_token": access_token, "token_type": "bearer", "expires_in": expires_in}

    @app.get("/api/v1/content")
    async def content_list(
        principal: Annotated[Principal, Depends(_principal)],
        engine: Annotated[AsyncEngine, Depends(_engine)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT id, prompt, content_type, status, result, created_at FROM content"
                    " WHERE user_id = :user ORDER BY created_at, id LIMIT :limit"
                ),
                {"user": principal.user_id, "limit": limit},
            )
            return [dict(row._mapping) for row in rows]

    @app.get("/api/v1/content/{content_id}")
    async def content(
        content_id: uuid.UUID,
        principal: Annotated[Principal, Depends(_principal)],
        engine: Annotated[AsyncEngine, Depends(_engine)],
    ) -> dict[str, Any]:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT id, user_id, prompt, status, result FROM content WHERE id = :id"),
                    {"id": content_id},
                )
            ).first()
        if row is None or (row.user_id != principal.user_id and not principal.is_admin):
            raise HTTPException(404, "Content not found")
        return dict(row._mapping)

    @app.get("/api/v1/agents/metrics")
    async def agent_metrics(
        _principal: Annotated[Principal, Depends(_principal)],
        engine: Annotated[AsyncEngine, Depends(_engine)],
    ) -> list[dict[str, Any]]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT agent_name, requests_total, errors_total, last_seen_at FROM agent_metrics"
                    " ORDER BY agent_name"
                )
            )
            return [dict(row._mapping) for row in rows]

    return app


app = create_legacy_app(load_settings())
