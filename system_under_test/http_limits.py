"""Limits on the request head, enforced in the HTTP server: httptools buffers a header for as long
as it grows and waits for a head for as long as it trickles in, so one 50 MB header was answered,
eight unfinished 40 MB ones took half a gigabyte, and a half-sent head held its connection for
a minute. The app never sees a head it has not received, so no middleware can help.

Serve the app with this protocol: `uvicorn system_under_test.main:app --http
system_under_test.http_limits:LimitedHttpToolsProtocol` (the Dockerfile and golive's
fixtures/serve.py do). The limits are the app's settings MAX_REQUEST_HEADER_BYTES (431 beyond it)
and REQUEST_HEAD_TIMEOUT_SECONDS (408 when the head is not complete in time, counted from the
connection or from the first byte of a later request on it); both answers are error envelopes,
and both close the connection."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from .envelope import ErrorCode, error_body, reason_for_status
from .settings import Settings

DEFAULT_MAX_HEADER_BYTES = 32_768
DEFAULT_HEAD_TIMEOUT_SECONDS = 10.0
_LINE_OVERHEAD = len(b": \r\n")


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; httptools reports it as a parser error."""


def _settings_of(app: object) -> Settings | None:
    # uvicorn may wrap the app in its own middleware; each keeps the next as `.app`.
    while app is not None:
        settings = getattr(getattr(app, "state", None), "settings", None)
        if isinstance(settings, Settings):
            return settings
        app = getattr(app, "app", None)
    return None


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = _settings_of(self.app)
        self.max_head_bytes = settings.max_request_header_bytes if settings else DEFAULT_MAX_HEADER_BYTES
        self.head_timeout = (
            settings.request_head_timeout_seconds if settings else DEFAULT_HEAD_TIMEOUT_SECONDS
        )
        self._in_head = False
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()  # a connection that sends nothing is a head that never arrives

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        started_in_head = self._in_head
        super().data_received(data)
        # Bytes of an unfinished head are what httptools buffers: count them as they arrive. A
        # chunk that began the head is left out (at most one read), the exact count follows below.
        if started_in_head and self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + _LINE_OVERHEAD for name, value in self.headers)
        if size > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with 400, ours (an oversized head) included.
        if self._head_too_large:
            self._refuse_too_large()
        else:
            super().send_400_response(msg)

    def _refuse_too_large(self) -> None:
        self._refuse(
            431, f"Request header fields exceed {self.max_head_bytes} bytes", ErrorCode.HEADERS_TOO_LARGE
        )

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is being written: no room for another on the wire
            return
        self._refuse(
            408, f"Request head not received within {self.head_timeout:g} s", ErrorCode.REQUEST_TIMEOUT
        )

    def _refuse(self, status: int, message: str, code: ErrorCode) -> None:
        self._stop_head_timer()
        body = json.dumps(error_body(message, code), separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {reason_for_status(status)}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()
