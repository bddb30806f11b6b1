"""The response envelope of the migration guide: every body the backend sends is built here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.responses import JSONResponse

from .context import current_request

T = TypeVar("T")


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - an error code, not a secret
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - an error code, not a secret
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    BULKHEAD_FULL = "BULKHEAD_FULL"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"


_CODE_BY_STATUS = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    408: ErrorCode.REQUEST_TIMEOUT,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    431: ErrorCode.HEADERS_TOO_LARGE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    502: ErrorCode.UPSTREAM_ERROR,
    503: ErrorCode.SERVICE_UNAVAILABLE,
    504: ErrorCode.UPSTREAM_TIMEOUT,
}


def code_for_status(status: int) -> ErrorCode:
    if status in _CODE_BY_STATUS:
        return _CODE_BY_STATUS[status]
    return ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST


def reason_for_status(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """A failure the backend reports to the client as an error envelope."""

    def __init__(
        self,
        status_code: int,
        message: str,
        error_code: ErrorCode | None = None,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_code = error_code or code_for_status(status_code)
        self.headers = headers
        self.details = details


class SuccessMetadata(BaseModel):
    timestamp: str
    request_id: str
    execution_time: float


class ErrorMetadata(SuccessMetadata):
    error_code: str
    errors: list[dict[str, Any]] | None = None
    details: dict[str, Any] | None = None


class Envelope(BaseModel, Generic[T]):
    """Documents the success body in the OpenAPI schema."""

    status: str = "success"
    message: str
    data: T
    metadata: SuccessMetadata


class ErrorEnvelope(BaseModel):
    status: str = "error"
    message: str
    data: None = None
    metadata: ErrorMetadata


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _base_metadata() -> dict[str, Any]:
    context = current_request.get()
    return {
        "timestamp": _timestamp(),
        # Outside a request (start-up, tests of this module) there is nothing to correlate with.
        "request_id": context.request_id if context else str(uuid.uuid4()),
        "execution_time": round(context.elapsed(), 6) if context else 0.0,
    }


def success_body(data: Any, message: str = "OK") -> dict[str, Any]:
    return {
        "status": "success",
        "message": message,
        "data": jsonable_encoder(data),
        "metadata": _base_metadata(),
    }


def error_body(
    message: str,
    error_code: ErrorCode | str,
    *,
    errors: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata = _base_metadata()
    metadata["error_code"] = str(error_code)
    if errors is not None:
        metadata["errors"] = errors
    if details is not None:
        metadata["details"] = jsonable_encoder(details)
    return {"status": "error", "message": message, "data": None, "metadata": metadata}


def ok(
    data: Any, message: str = "OK", status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(success_body(data, message), status_code=status_code, headers=headers)


def error_response(error: ApiError, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(
        error_body(error.message, error.error_code, errors=errors, details=error.details),
        status_code=error.status_code,
        headers=error.headers,
    )
