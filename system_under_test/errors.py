"""Exception handlers: every error the framework, the domain or a dependency raises becomes an envelope."""

from __future__ import annotations

from typing import Any

import asyncpg.exceptions
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .envelope import ApiError, ErrorCode, code_for_status, error_response, reason_for_status
from .logs import get_logger

logger = get_logger("system_under_test.errors")

# A dependency that cannot be reached is the client's 503, not a bug of ours (500).
DEPENDENCY_FAILURES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    # What asyncpg raises when a connection is lost, refused, or the server is going away. SQLAlchemy
    # wraps most of them in a plain DBAPIError (see is_dependency_failure); some escape unwrapped.
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_dependency_failure(error: BaseException) -> bool:
    """A dependency could not be reached: the error itself, or what SQLAlchemy wrapped. A lost
    connection reaches us as a generic DBAPIError (asyncpg's ConnectionDoesNotExistError is a
    PostgresError), so the wrapped error and the dialect's own disconnect verdict decide."""
    if isinstance(error, DEPENDENCY_FAILURES):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        # The dialect re-raises asyncpg's error as its DB-API class, `from` the original.
        original = error.orig
        return original is not None and (
            isinstance(original, DEPENDENCY_FAILURES) or isinstance(original.__cause__, DEPENDENCY_FAILURES)
        )
    return False


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is left out on purpose: it may be a password.
    return [
        {
            "loc": [str(part) for part in item.get("loc", ())],
            "msg": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        for item in error.errors()
    ]


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if isinstance(error.__cause__, UnicodeDecodeError):
        # FastAPI answers 400 for a body that is not UTF-8; to a client it is malformed JSON like any other.
        return error_response(
            ApiError(422, "Request validation failed", ErrorCode.VALIDATION_ERROR),
            errors=[{"loc": ["body"], "msg": "Body is not valid UTF-8", "type": "json_invalid"}],
        )
    message = error.detail if isinstance(error.detail, str) else reason_for_status(error.status_code)
    return error_response(
        ApiError(
            error.status_code,
            message,
            code_for_status(error.status_code),
            headers=dict(error.headers) if error.headers else None,
        )
    )


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return error_response(
        ApiError(422, "Request validation failed", ErrorCode.VALIDATION_ERROR), errors=_field_errors(error)
    )


def dependency_unavailable() -> ApiError:
    return ApiError(503, "A dependency of this service is unavailable", ErrorCode.DEPENDENCY_UNAVAILABLE)


async def _dependency_error(request: Request, error: Exception) -> Response:
    logger.warning("dependency unavailable", error_type=type(error).__name__, path=request.url.path)
    return error_response(dependency_unavailable())


async def _database_error(request: Request, error: Exception) -> Response:
    if is_dependency_failure(error):
        return await _dependency_error(request, error)
    raise error  # a bug of ours (a constraint, bad SQL): RequestContextMiddleware answers 500


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for failure in DEPENDENCY_FAILURES:
        app.add_exception_handler(failure, _dependency_error)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_error)
    # Anything else propagates to RequestContextMiddleware, which logs it and answers 500.
