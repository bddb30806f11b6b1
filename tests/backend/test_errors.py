"""Database connectivity errors, raw and as SQLAlchemy wraps them, answer 503 DEPENDENCY_UNAVAILABLE;
a bug of ours (a constraint) stays a 500. In process, over the exception classes asyncpg raises."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, AsyncAdapt_asyncpg_dbapi
from starlette.types import ASGIApp, Receive, Scope, Send

from golive.core import http_clients
from golive.core.contract_rules import envelope_problems
from golive.system_under_test.errors import install_exception_handlers, is_dependency_failure
from golive.system_under_test.middleware.request_context import RequestContextMiddleware

_DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]

LOST_CONNECTION = [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ClientCannotConnectError("cannot connect"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another process"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
]


def wrapped(raw: Exception) -> BaseException:
    """`raw` as the application sees it through SQLAlchemy's asyncpg dialect."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(_DBAPI, raw)
    except Exception as translated:
        return sqlalchemy.exc.DBAPIError.instance("SELECT 1", {}, translated, _DBAPI.Error)
    raise AssertionError("the dialect did not raise")


def case_id(error: BaseException) -> str:
    return type(error).__name__


CASES = [*LOST_CONNECTION, *(wrapped(raw) for raw in LOST_CONNECTION if not isinstance(raw, OSError))]


class RaiseInMiddleware:
    """Fails outside the routes, where no exception handler sees the error."""

    def __init__(self, app: ASGIApp, error: BaseException) -> None:
        self.app = app
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/middleware":
            raise self.error
        await self.app(scope, receive, send)


def client_raising(error: BaseException) -> httpx.AsyncClient:
    app = FastAPI()
    install_exception_handlers(app)

    @app.get("/route")
    async def route() -> None:
        raise error

    stack = RequestContextMiddleware(RaiseInMiddleware(app, error))
    # Starlette re-raises after its own 500 so that servers can log it; the answer is what counts here.
    transport = httpx.ASGITransport(app=stack, raise_app_exceptions=False)
    return http_clients.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.parametrize("error", CASES, ids=case_id)
def test_a_lost_connection_is_a_dependency_failure(error: BaseException) -> None:
    assert is_dependency_failure(error)


@pytest.mark.parametrize("error", CASES, ids=case_id)
@pytest.mark.parametrize("where", ["/route", "/middleware"])
async def test_a_lost_connection_answers_503_dependency_unavailable(error: BaseException, where: str) -> None:
    async with client_raising(error) as client:
        response = await client.get(where)
    assert response.status_code == 503
    assert response.json()["metadata"]["error_code"] == "DEPENDENCY_UNAVAILABLE"
    assert envelope_problems(503, response.content, response.headers["content-type"]) == []


def test_the_dialects_disconnect_verdict_counts() -> None:
    error = sqlalchemy.exc.DBAPIError.instance(
        "SELECT 1",
        {},
        _DBAPI.Error("gone"),  # type: ignore[no-untyped-call]
        _DBAPI.Error,
        connection_invalidated=True,
    )
    assert is_dependency_failure(error)


@pytest.mark.parametrize("where", ["/route", "/middleware"])
async def test_a_constraint_violation_is_still_a_500(where: str) -> None:
    error = wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key value"))
    assert isinstance(error, sqlalchemy.exc.IntegrityError)
    assert not is_dependency_failure(error)
    async with client_raising(error) as client:
        response = await client.get(where)
    assert response.status_code == 500
    assert response.json()["metadata"]["error_code"] == "INTERNAL_ERROR"
