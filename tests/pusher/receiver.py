"""A real HTTP webhook receiver on a loopback port: records every request (headers and the exact
body bytes) and answers 200, or 500 for as many first requests as it is told to fail."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEADLINE = 5.0


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the receiver answered

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = json.loads(self.body)["events"]
        return events


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = self.server.next_status()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.deliveries.put(Delivery(self.path, headers, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        self._fail_first = fail_first
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/pusher/webhooks"

    def next_status(self) -> int:
        with self._lock:
            if self._fail_first > 0:
                self._fail_first -= 1
                return 500
            return 200

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    async def next(self, deadline: float = DEADLINE) -> Delivery:
        """The next request received (off the event loop: the test's sockets keep being read)."""
        try:
            return await asyncio.to_thread(self.deliveries.get, True, deadline)
        except queue.Empty:
            raise AssertionError(f"no webhook request within {deadline}s") from None

    async def events_until(
        self, channel: str, last: dict[str, Any], deadline: float = DEADLINE
    ) -> tuple[list[dict[str, Any]], list[Delivery]]:
        """Every webhook event about `channel` (in order) up to and including one equal to
        `last`, and the successful requests that carried them. Events about other channels are
        skipped; requests the receiver failed are not counted (they will be retried)."""
        events: list[dict[str, Any]] = []
        deliveries: list[Delivery] = []
        while True:
            delivery = await self.next(deadline)
            if delivery.status != 200:
                continue
            deliveries.append(delivery)
            for event in delivery.events:
                if event.get("channel") == channel:
                    events.append(event)
                    if event == last:
                        return events, deliveries

    def assert_idle(self) -> None:
        assert self.deliveries.empty(), f"unexpected webhook request: {self.deliveries.get_nowait()}"
