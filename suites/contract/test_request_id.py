"""X-Request-ID: echoed when valid, replaced when not, in the header and the envelope alike."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from golive.core.contract_rules import request_id_problems

pytestmark = pytest.mark.external_ok

VALID = [
    "5a2ce136-2ad7-4706-9c2e-6f1d3b7a8e10",  # a UUID, fixed: every xdist worker collects the same ids
    "abc-123",
    "trace.id:1_2",
    "0af7651916cd43dd8448eb211c80319c",
    "a" * 128,
]
INVALID = [
    "",
    "a" * 129,
    "has space",
    "<script>alert(1)</script>",
    "a/b",
    "-leading-dash",
    "semi;colon",
    "caf\u00e9",
]
ROUTES = ["/health", "/nope", "/api/v1/auth/me"]


def problems(response: httpx.Response, sent: str | None) -> list[str]:
    return request_id_problems(
        response.headers, response.content, response.headers.get("content-type", ""), sent
    )


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("request_id", VALID, ids=lambda value: value[:20])
def test_valid_request_id_is_echoed(golive_http: httpx.Client, path: str, request_id: str) -> None:
    response = golive_http.get(path, headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    assert problems(response, request_id) == []


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("request_id", INVALID, ids=lambda value: repr(value[:20]))
def test_invalid_request_id_is_replaced_by_a_uuid(
    golive_http: httpx.Client, path: str, request_id: str
) -> None:
    # latin-1 is what HTTP/1.1 carries in header values; httpx would refuse non-ASCII str.
    response = golive_http.get(path, headers={b"X-Request-ID": request_id.encode("latin-1")})
    assert response.headers["x-request-id"] != request_id
    uuid.UUID(response.headers["x-request-id"])
    assert problems(response, request_id) == []


@pytest.mark.parametrize("path", ROUTES)
def test_missing_request_id_is_generated(golive_http: httpx.Client, path: str) -> None:
    response = golive_http.get(path)
    uuid.UUID(response.headers["x-request-id"])
    assert problems(response, None) == []


def test_each_request_gets_its_own_generated_id(golive_http: httpx.Client) -> None:
    ids = {golive_http.get("/health").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


def _raw_exchange(sut_url: str, request: bytes) -> bytes:
    parts = urlsplit(sut_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "value",
    [b"abc\r\nX-Injected: yes", b"abc\rX-Injected: yes", b"abc\nX-Injected: yes", b"abc\x00def"],
    ids=["crlf", "cr", "lf", "nul"],
)
def test_header_injection_through_request_id_is_impossible(golive_sut_url: str, value: bytes) -> None:
    request = (
        b"GET /health HTTP/1.1\r\nHost: sut\r\nConnection: close\r\nX-Request-ID: " + value + b"\r\n\r\n"
    )
    answer = _raw_exchange(golive_sut_url, request)
    assert answer.startswith(b"HTTP/1.1 "), "the server closed the connection without an answer"
    header_lines = answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    names = [line.split(b":", 1)[0].strip().lower() for line in header_lines]
    # The server either refuses the request outright or treats the line break as the end of the
    # header; either way nothing the client smuggled comes back as a header of the response.
    assert b"x-injected" not in names
    for line in header_lines:
        if line.lower().startswith(b"x-request-id:"):
            echoed = line.split(b":", 1)[1].strip().decode("latin-1")
            assert echoed == "abc" or uuid.UUID(echoed)
