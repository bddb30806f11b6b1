"""The outermost middleware, in process: ids, the last-resort 500, and bare error bodies enveloped."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from golive.core import http_clients
from golive.core.contract_rules import envelope_problems
from golive.system_under_test.middleware.request_context import RequestContextMiddleware, accept_request_id

VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_an_id_is_echoed_exactly_when_valid(candidate: str) -> None:
    accepted = accept_request_id(candidate)
    if VALID.fullmatch(candidate):
        assert accepted == candidate
    else:
        assert str(uuid.UUID(accepted)) == accepted


def test_no_id_gets_a_uuid() -> None:
    assert uuid.UUID(accept_request_id(None))


class Explode:
    """Middleware that fails before the app answers: an error no exception handler sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/explode":
            raise RuntimeError("secret internals: postgresql://user:pw@db")
        await self.app(scope, receive, send)


async def plain_error(request: Request) -> Response:
    return PlainTextResponse("Teapot says no", status_code=418)


async def html_error(request: Request) -> Response:
    return Response("<html>" + "x" * 500 + "</html>", status_code=502, media_type="text/html")


async def json_error(request: Request) -> Response:
    return JSONResponse({"custom": True}, status_code=409)


async def ok(request: Request) -> Response:
    return PlainTextResponse("fine")


async def broken_stream(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("mid-stream")

    return StreamingResponse(body())


def make_app() -> ASGIApp:
    app = Starlette(
        routes=[
            Route("/plain", plain_error),
            Route("/html", html_error),
            Route("/json", json_error),
            Route("/ok", ok),
            Route("/stream", broken_stream),
        ]
    )
    return RequestContextMiddleware(Explode(app), header_name="X-Request-ID")


@pytest.fixture
def client() -> httpx.AsyncClient:
    return http_clients.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test")


async def test_failure_inside_middleware_answers_500_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/explode", headers={"X-Request-ID": "abc-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "abc-1"
    body = response.json()
    assert body["metadata"]["error_code"] == "INTERNAL_ERROR"
    assert body["metadata"]["request_id"] == "abc-1"
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert envelope_problems(500, response.content, response.headers["content-type"]) == []


@pytest.mark.parametrize(
    ("path", "status", "message"), [("/plain", 418, "Teapot says no"), ("/html", 502, "Bad Gateway")]
)
async def test_bare_error_bodies_are_enveloped(
    client: httpx.AsyncClient, path: str, status: int, message: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.json()["message"] == message
    assert int(response.headers["content-length"]) == len(response.content)
    assert envelope_problems(status, response.content, response.headers["content-type"]) == []


async def test_json_errors_and_successes_pass_through_untouched(client: httpx.AsyncClient) -> None:
    assert (await client.get("/json")).json() == {"custom": True}
    response = await client.get("/ok")
    assert response.text == "fine"
    assert uuid.UUID(response.headers["x-request-id"])


async def test_failure_after_the_response_started_is_not_disguised(client: httpx.AsyncClient) -> None:
    # Half a 200 is already on the wire: the only honest thing left is to abort the exchange.
    with pytest.raises(RuntimeError, match="mid-stream"):
        await client.get("/stream")
