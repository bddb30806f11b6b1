"""Request body limit. A declared oversize body is refused before it is read; an undeclared
(chunked) one is refused as soon as it crosses the limit, through the normal HTTPException path so
the envelope handler answers."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from system_under_test.envelope import ApiError, ErrorCode, error_response


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = ApiError(413, f"Request body exceeds {self.max_bytes} bytes", ErrorCode.PAYLOAD_TOO_LARGE)
            # Closing the connection spares the server from draining a body nobody will read.
            error.headers = {"Connection": "close"}
            await error_response(error)(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
