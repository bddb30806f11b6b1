"""Headers and bodies a hostile or broken client sends: each gets a clear 4xx in the envelope (or
a closed connection where no answer is possible), never a 500, a hang or a leaked internal."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from golive.core import http_clients
from golive.core.contract_rules import envelope_problems
from golive.fixtures.clients import BackendFactory


def assert_envelope(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    problems = envelope_problems(
        response.status_code, response.content, response.headers.get("content-type", "")
    )
    assert problems == []
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_refused_cleanly(
    golive_http: httpx.Client, golive_user_token: str, depth: int
) -> None:
    body = "[" * depth + "]" * depth
    response = golive_http.post(
        "/api/v1/content/generate",
        content=body,
        headers={"Authorization": f"Bearer {golive_user_token}", "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert_envelope(response, response.status_code)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json; charset=latin-1"],
)
def test_a_wrong_content_type_is_a_validation_error(
    golive_http: httpx.Client, golive_user_token: str, content_type: str
) -> None:
    response = golive_http.post(
        "/api/v1/content/generate",
        content=json.dumps({"prompt": "hello"}).encode("latin-1")
        if "latin" in content_type
        else b"<prompt>hello</prompt>",
        headers={"Authorization": f"Bearer {golive_user_token}", "Content-Type": content_type},
    )
    if "latin" in content_type and response.status_code == 201:
        return  # still JSON, and ASCII: a lenient but correct reading
    assert_envelope(response, 422)


@pytest.mark.parametrize("size", [16 * 1024, 256 * 1024])
def test_oversized_headers_are_refused_without_a_server_error(golive_sut_url: str, size: int) -> None:
    with http_clients.Client(base_url=golive_sut_url, timeout=30) as client:
        try:
            response = client.get("/health", headers={"X-Padding": "a" * size})
        except httpx.RemoteProtocolError:
            return  # the server closed the connection: refused before any handler ran
    assert response.status_code < 500 or response.status_code == 503
    assert response.status_code in (200, 400, 431)


def raw_request(base_url: str, head: bytes, timeout: float) -> tuple[bytes, float]:
    """Sends `head` and then nothing; returns what came back and how long it took."""
    location = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((location.hostname, location.port), timeout=timeout) as connection:
        connection.sendall(head)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def test_a_body_dripped_too_slowly_is_cut_off_with_408(golive_start_backend: BackendFactory) -> None:
    backend = golive_start_backend({"REQUEST_BODY_TIMEOUT_SECONDS": "1"})
    head = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: golive\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"user'
    )
    received, seconds = raw_request(backend.urls[0], head, timeout=20)
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["metadata"]["error_code"] == "REQUEST_TIMEOUT"
    assert seconds < 15  # the connection was closed, not held until our own timeout


def test_a_whole_body_is_not_cut_off_by_the_timeout(golive_start_backend: BackendFactory) -> None:
    backend = golive_start_backend({"REQUEST_BODY_TIMEOUT_SECONDS": "1"})
    response = http_clients.post(
        f"{backend.urls[0]}/api/v1/auth/token", json={"username": "nobody", "password": "x"}, timeout=30
    )
    assert_envelope(response, 401)


def send_head_until_refused(base_url: str, head: bytes, chunk: int = 65536) -> bytes:
    """Sends `head` piece by piece until the server stops taking it; returns its answer."""
    location = urlsplit(base_url)
    with socket.create_connection((location.hostname, location.port), timeout=20) as connection:
        try:
            for start in range(0, len(head), chunk):
                connection.sendall(head[start : start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused partway: the answer is already waiting
        received = b""
        try:
            while chunk_received := connection.recv(65536):
                received += chunk_received
        except ConnectionResetError:
            pass  # closed with our unread bytes still queued: what was sent before still counts
    return received


def assert_raw_envelope(received: bytes, status_line: bytes, code: str) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == status_line
    assert b"connection: close" in head.lower()
    assert json.loads(body)["metadata"]["error_code"] == code


@pytest.mark.parametrize("size", [40 * 1024, 50 * 1024 * 1024])
def test_a_head_over_the_header_limit_is_431(golive_sut_url: str, size: int) -> None:
    # 40 KiB arrives whole; 50 MiB is refused while it is still arriving, never buffered whole.
    head = b"GET /health HTTP/1.1\r\nHost: golive\r\nX-Padding: " + b"a" * size + b"\r\n\r\n"
    received = send_head_until_refused(golive_sut_url, head)
    assert_raw_envelope(received, b"HTTP/1.1 431 Request Header Fields Too Large", "HEADERS_TOO_LARGE")


def test_many_headers_add_up_to_the_limit(golive_sut_url: str) -> None:
    lines = b"".join(b"X-H%d: %s\r\n" % (index, b"v" * 1000) for index in range(40))
    received = send_head_until_refused(
        golive_sut_url, b"GET /health HTTP/1.1\r\nHost: golive\r\n" + lines + b"\r\n"
    )
    assert_raw_envelope(received, b"HTTP/1.1 431 Request Header Fields Too Large", "HEADERS_TOO_LARGE")


def test_a_head_within_the_limit_is_served(golive_sut_url: str) -> None:
    response = http_clients.get(
        f"{golive_sut_url}/health", headers={"X-Padding": "a" * 16 * 1024}, timeout=30
    )
    assert response.status_code in (200, 503)  # 503: a degraded dependency, still an answer


@pytest.mark.parametrize(
    "head", [b"", b"GET /health HTTP/1.1\r\nHost: golive\r\nX-Slow: "], ids=["nothing", "half a head"]
)
def test_a_head_not_sent_in_time_is_cut_off_with_408(
    golive_start_backend: BackendFactory, head: bytes
) -> None:
    backend = golive_start_backend({"REQUEST_HEAD_TIMEOUT_SECONDS": "1"})
    # The socket's own timeout (20 s) is far beyond: an answer means the server closed it.
    received, _ = raw_request(backend.urls[0], head, timeout=20)
    assert_raw_envelope(received, b"HTTP/1.1 408 Request Timeout", "REQUEST_TIMEOUT")
