"""Headers and bodies a hostile or broken client sends: each gets a clear 4xx in the envelope (or
a closed connection where no answer is possible), never a 500, a hang or a leaked internal."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from golive.fixtures.plugin import BackendFactory

from ..contract.rules import envelope_problems


def assert_envelope(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    problems = envelope_problems(
        response.status_code, response.content, response.headers.get("content-type", "")
    )
    assert problems == []
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_refused_cleanly(http: httpx.Client, user_token: str, depth: int) -> None:
    body = "[" * depth + "]" * depth
    response = http.post(
        "/api/v1/content/generate",
        content=body,
        headers={"Authorization": f"Bearer {user_token}", "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert_envelope(response, response.status_code)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json; charset=latin-1"],
)
def test_a_wrong_content_type_is_a_validation_error(
    http: httpx.Client, user_token: str, content_type: str
) -> None:
    response = http.post(
        "/api/v1/content/generate",
        content=json.dumps({"prompt": "hello"}).encode("latin-1")
        if "latin" in content_type
        else b"<prompt>hello</prompt>",
        headers={"Authorization": f"Bearer {user_token}", "Content-Type": content_type},
    )
    if "latin" in content_type and response.status_code == 201:
        return  # still JSON, and ASCII: a lenient but correct reading
    assert_envelope(response, 422)


@pytest.mark.parametrize("size", [16 * 1024, 256 * 1024])
def test_oversized_headers_are_refused_without_a_server_error(sut_url: str, size: int) -> None:
    with httpx.Client(base_url=sut_url, timeout=30) as client:
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


def test_a_body_dripped_too_slowly_is_cut_off_with_408(start_backend: BackendFactory) -> None:
    backend = start_backend({"REQUEST_BODY_TIMEOUT_SECONDS": "1"})
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


def test_a_whole_body_is_not_cut_off_by_the_timeout(start_backend: BackendFactory) -> None:
    backend = start_backend({"REQUEST_BODY_TIMEOUT_SECONDS": "1"})
    response = httpx.post(
        f"{backend.urls[0]}/api/v1/auth/token", json={"username": "nobody", "password": "x"}, timeout=30
    )
    assert_envelope(response, 401)
