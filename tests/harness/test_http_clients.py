"""golive's httpx clients share one TLS context, and the one-request helpers hand each option to
where httpx.request would (the client's or the request's)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from golive.core import http_clients
from tests.loopback_http import serving


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        if self.path == "/slow":
            time.sleep(2)
        length = int(self.headers.get("Content-Length") or 0)
        body = {
            "method": self.command,
            "path": self.path,
            "body": self.rfile.read(length).decode(),
            "header": self.headers.get("X-Probe"),
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    with serving(_Echo) as url:
        yield url


def test_clients_share_one_tls_context_made_as_httpx_makes_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[ssl.SSLContext] = []
    original = httpx.create_ssl_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = original(*args, **kwargs)  # type: ignore[arg-type]
        made.append(context)
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    http_clients.tls_context.cache_clear()
    try:
        for _ in range(5):
            http_clients.Client().close()
            http_clients.AsyncClient()  # never used: it holds no connection to release
        assert len(made) == 1
        assert made[0].verify_mode == ssl.CERT_REQUIRED
        assert made[0].check_hostname
    finally:
        http_clients.tls_context.cache_clear()


def test_one_request_helpers_send_what_httpx_request_sends(echo: str) -> None:
    got = http_clients.get(f"{echo}/a", params={"q": "1"}, headers={"X-Probe": "yes"}, timeout=10).json()
    assert got == {"method": "GET", "path": "/a?q=1", "body": "", "header": "yes"}
    posted = http_clients.post(f"{echo}/b", json={"k": "v"}, timeout=10).json()
    assert (posted["method"], json.loads(posted["body"])) == ("POST", {"k": "v"})
    assert http_clients.delete(f"{echo}/c", timeout=10).json()["method"] == "DELETE"


def test_a_client_option_of_a_one_off_request_reaches_its_client(echo: str) -> None:
    # A timeout belongs to the client httpx.request makes: it must still apply.
    with pytest.raises(httpx.ReadTimeout):
        http_clients.get(f"{echo}/slow", timeout=0.3)
    with pytest.raises(TypeError):
        http_clients.get(f"{echo}/", no_such_option=1)
