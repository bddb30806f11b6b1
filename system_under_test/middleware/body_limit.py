"""Request body limits, in size and in time. A declared oversize body is refused before it is
read; an undeclared (chunked) one as soon as it crosses the limit; a body still incomplete after
the time limit (a slowloris dripping it) with 408. Both through the normal HTTPException path, so
the envelope handler answers."""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..envelope import ApiError, ErrorCode, error_response


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds {limit} bytes")


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"Request body not received within {seconds:g} s", headers={"Connection": "close"}
        )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

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
        complete = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal received, complete, deadline
            if complete:
                return await receive()  # after the body: a disconnect, whenever it comes
            if deadline is None:
                deadline = anyio.current_time() + self.timeout_seconds
            try:
                with anyio.fail_after(max(deadline - anyio.current_time(), 0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout_seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)
