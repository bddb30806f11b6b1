"""Unhandled failures: the client gets the 500 envelope and nothing of the internals; the log and
Sentry get the whole story, tied to the request id. And every log line of a request carries its
id. These need a stack this session started: a backend of its own to break, its log to read.

Sentry itself is a SaaS that cannot exist here; a loopback receiver stands in for its ingestion
endpoint, and the backend's real sentry-sdk sends to it.
"""

from __future__ import annotations

import gzip
import json
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.core.contract_rules import response_problems
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory, login
from golive.fixtures.network import wait_until
from golive.fixtures.operations import create_users
from golive.fixtures.sut import SutCluster

LEAKS = ["Traceback", "agent_metrics", "sqlalchemy", "asyncpg", "UndefinedTable", 'File "', "postgresql://"]


def log_lines(path: Path) -> list[dict[str, object]]:
    # Under LOG_FORMAT=json every line is one JSON document: json.loads fails the test otherwise.
    return [json.loads(raw) for raw in path.read_text().splitlines()]


@dataclass
class Failure:
    backend: SutCluster
    token: str
    request_id: str
    response: httpx.Response


def fail_for_real(database: str, start_backend: BackendFactory, **env: str) -> Failure:
    """A backend whose database lost a table under it: a genuine bug, not a test hook."""
    backend = start_backend({"DATABASE_URL": database, **env})
    user = new_credentials(f"u-{uuid.uuid4().hex[:8]}")
    create_users(database, {"user": user})
    token = login(backend.urls[0], user)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("DROP TABLE agent_metrics")
    request_id = f"boom-{uuid.uuid4().hex[:8]}"
    response = http_clients.get(
        f"{backend.urls[0]}/api/v1/agents/metrics",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
        timeout=30,
    )
    return Failure(backend, token, request_id, response)


def test_unhandled_failure_answers_500_envelope_without_internals(
    golive_database: str, golive_start_backend: BackendFactory
) -> None:
    failure = fail_for_real(golive_database, golive_start_backend)
    response = failure.response
    assert response.status_code == 500
    assert response.json()["metadata"]["error_code"] == "INTERNAL_ERROR"
    problems = response_problems(
        "/api/v1/agents/metrics", 500, response.headers, response.content, failure.request_id
    )
    assert problems == []
    for leak in LEAKS:
        assert leak not in response.text
    logged = log_lines(failure.backend.replicas[0].log_path)
    errors = [line for line in logged if line["event"] == "unhandled error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == failure.request_id
    assert "UndefinedTable" in json.dumps(errors[0]["exception"])


def test_every_log_line_of_a_request_carries_its_id(
    golive_start_backend: BackendFactory, golive_unused_port: int
) -> None:
    # Database down: the request logs a warning besides its access line.
    backend = golive_start_backend(
        {"DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:{golive_unused_port}/none"}
    )
    log = backend.replicas[0].log_path
    before = len(log_lines(log))  # start-up and the readiness probes
    request_id = f"logged-{uuid.uuid4().hex[:8]}"
    response = http_clients.post(
        f"{backend.urls[0]}/api/v1/auth/token",
        json={"username": "someone", "password": "whatever"},
        headers={"X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 503

    def logged() -> list[dict[str, object]] | None:
        lines = log_lines(log)[before:]
        # This request's access line, its last (the readiness probe's may come first); one that
        # lost its id counts too, so the assertions below name that defect.
        ours = (line["event"] == "request" and line.get("request_id") in (None, request_id) for line in lines)
        return lines if any(ours) else None

    # From the request's arrival to its access line, a line is of this request unless it names
    # another one (the readiness probe's last access line may land in between): a line that
    # names none is a line of this request that lost its id.
    window = wait_until(logged, timeout=15, what="the request's access line")
    of_request = [line for line in window if line.get("request_id") in (None, request_id)]
    assert {line["event"] for line in of_request} >= {"request", "dependency unavailable"}
    assert all(line.get("request_id") == request_id for line in of_request), of_request
    assert "secret" not in log.read_text()


class SentryReceiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SentryHandler)
        self.envelopes: list[tuple[str, bytes]] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"


def _unbrotli(body: bytes) -> bytes:
    # The SDK compresses with brotli whenever the module is installed (Locust's HTTP client brings
    # it), so it is there whenever a body arrives so encoded.
    import brotli  # type: ignore[import-untyped]

    decompressed: bytes = brotli.decompress(body)
    return decompressed


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": _unbrotli,
}


class _SentryHandler(BaseHTTPRequestHandler):
    server: SentryReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        decompress = _DECODERS.get(self.headers.get("Content-Encoding", ""))
        self.server.envelopes.append((self.path, decompress(body) if decompress else body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_unhandled_failure_is_reported_to_sentry(
    sentry: SentryReceiver, golive_database: str, golive_start_backend: BackendFactory
) -> None:
    failure = fail_for_real(
        golive_database, golive_start_backend, SENTRY_DSN=sentry.dsn, SENTRY_ENVIRONMENT="golive-test"
    )
    assert failure.response.status_code == 500

    def reported() -> bytes | None:
        return next((body for _, body in sentry.envelopes if failure.request_id.encode() in body), None)

    envelope = wait_until(reported, timeout=30, what="a Sentry event for the failed request")
    assert sentry.envelopes[0][0] == "/api/42/envelope/"
    assert b"UndefinedTable" in envelope
    assert b'"environment":"golive-test"' in envelope
    assert failure.token.encode() not in envelope
    assert failure.backend.env["JWT_SECRET"].encode() not in envelope


def test_without_a_dsn_nothing_is_reported(
    sentry: SentryReceiver, golive_database: str, golive_start_backend: BackendFactory
) -> None:
    failure = fail_for_real(golive_database, golive_start_backend)
    assert failure.response.status_code == 500
    assert "SENTRY_DSN" not in failure.backend.env
    assert sentry.envelopes == []
