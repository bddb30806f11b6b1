"""SENTRY_*: unhandled errors reach Sentry, with the request id and without secrets.

Sentry itself is a SaaS that cannot exist here; a loopback receiver stands in for its ingestion
endpoint, and the backend's real sentry-sdk sends to it.
"""

from __future__ import annotations

import gzip
import threading
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg
import pytest

from fixtures.network import wait_until
from fixtures.plugin import BackendFactory, login
from fixtures.stack import create_users, new_credentials


class SentryReceiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.envelopes: list[tuple[str, bytes]] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"


class _Handler(BaseHTTPRequestHandler):
    server: SentryReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.envelopes.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_unhandled_error_is_reported_to_sentry(
    sentry: SentryReceiver, database: str, start_backend: BackendFactory
) -> None:
    backend = start_backend(
        {"DATABASE_URL": database, "SENTRY_DSN": sentry.dsn, "SENTRY_ENVIRONMENT": "golive-test"}
    )
    user = new_credentials(f"s-{uuid.uuid4().hex[:8]}")
    create_users(database, {"user": user})
    token = login(backend.urls[0], user)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("DROP TABLE agent_metrics")
    request_id = f"sentry-{uuid.uuid4().hex[:8]}"

    response = httpx.get(
        f"{backend.urls[0]}/api/v1/agents/metrics",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 500

    def reported() -> bytes | None:
        return next((body for path, body in sentry.envelopes if request_id.encode() in body), None)

    envelope = wait_until(reported, timeout=30, what="a Sentry event for the failed request")
    assert sentry.envelopes[0][0] == "/api/42/envelope/"
    assert b"UndefinedTable" in envelope
    assert b'"environment":"golive-test"' in envelope
    assert token.encode() not in envelope
    assert backend.env["JWT_SECRET"].encode() not in envelope


def test_no_dsn_no_reports(sentry: SentryReceiver, start_backend: BackendFactory) -> None:
    backend = start_backend()
    assert "SENTRY_DSN" not in backend.env
    assert httpx.get(f"{backend.urls[0]}/nope", timeout=30).status_code == 404
    assert sentry.envelopes == []
