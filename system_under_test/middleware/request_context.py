"""Outermost middleware: request id, timing, access log, and the last line of the error envelope.

Pure ASGI on purpose: BaseHTTPMiddleware costs ~60% of throughput here (see research/feasibility.md).
"""

from __future__ import annotations

import json
import re
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..context import RequestContext, current_request
from ..envelope import ErrorCode, code_for_status, error_body, reason_for_status
from ..errors import is_dependency_failure
from ..logs import get_logger

# Printable, header-safe, bounded: enough for UUIDs, ULIDs and W3C trace ids; nothing that could
# split a header line or a log line.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_MAX_ECHOED_TEXT = 200

logger = get_logger("system_under_test.access")


def accept_request_id(value: str | None) -> str:
    """The caller's id when it is safe to echo, else a fresh UUID."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def _envelope_bytes(message: str, code: ErrorCode | str) -> bytes:
    return json.dumps(error_body(message, code), separators=(",", ":")).encode()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, header_name: str = "X-Request-ID") -> None:
        self.app = app
        self.header_name = header_name.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(self.header_name))
        context = RequestContext(request_id)
        token = current_request.set(context)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        exchange = _Exchange(self.header_name, request_id, send)
        try:
            await self.app(scope, receive, exchange.send)
        except Exception as error:
            # Middleware runs outside the exception handlers: a dependency lost there is still a 503.
            unavailable = is_dependency_failure(error)
            if unavailable:
                logger.warning(
                    "dependency unavailable", error_type=type(error).__name__, path=scope.get("path")
                )
            else:
                logger.exception("unhandled error", path=scope.get("path"))
            if exchange.started or scope["type"] != "http":
                raise  # the client already has part of a response; only aborting the connection is honest
            if unavailable:
                await exchange.send_error(
                    503, "A dependency of this service is unavailable", ErrorCode.DEPENDENCY_UNAVAILABLE
                )
            else:
                await exchange.send_error(500, "Internal server error", ErrorCode.INTERNAL_ERROR)
        finally:
            if scope["type"] == "http":
                logger.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=exchange.status,
                    duration_ms=round(context.elapsed() * 1000, 3),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            current_request.reset(token)


class _Exchange:
    """Wraps `send`: stamps the request id on the response and envelopes bare error bodies.

    Error responses that other middleware produce (CORS, body limits, anything third-party) carry
    text bodies; the guide promises the envelope for every error, so they are rewritten here.
    """

    def __init__(self, header_name: str, request_id: str, send: Send) -> None:
        self.header_name = header_name
        self.request_id = request_id
        self._send = send
        self.started = False
        self.status = 0
        self._rewrite: Message | None = None
        self._original_body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = MutableHeaders(scope=message)
            headers[self.header_name] = self.request_id
            content_type = headers.get("content-type", "")
            if self.status >= 400 and not content_type.startswith("application/json"):
                self._rewrite = message
                return
        elif message["type"] == "http.response.body" and self._rewrite is not None:
            self._original_body += message.get("body", b"")
            if message.get("more_body", False):
                return
            await self._send_rewritten()
            return
        await self._send(message)

    async def _send_rewritten(self) -> None:
        assert self._rewrite is not None
        text = self._original_body.decode("utf-8", "replace").strip()
        if not text or len(text) > _MAX_ECHOED_TEXT or not text.isprintable():
            text = reason_for_status(self.status)
        body = _envelope_bytes(text, code_for_status(self.status))
        headers = MutableHeaders(scope=self._rewrite)
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
        await self._send(self._rewrite)
        await self._send({"type": "http.response.body", "body": body})

    async def send_error(self, status: int, message: str, code: ErrorCode) -> None:
        body = _envelope_bytes(message, code)
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": body})
