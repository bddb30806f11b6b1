"""Toxiproxy's HTTP API (2.12.0), byte for byte where clients can tell: routes, status codes,
JSON shapes, error bodies (JSON with a newline, sent as text/plain as Go's http.Error does; but
/populate answers its errors as application/json, with `proxies`, as Toxiproxy's handler does),
404/405 defaults, the 403 for browsers and the X-Toxiproxy-Request-Id header. An unforeseen
failure is a 500 in the same error shape, as Toxiproxy reports any error that is not an ApiError.

Extensions, on paths Toxiproxy does not have: GET /proxies/{name}/stats (live counters).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from golive.chaos.toxiproxy.server import VERSION, ApiError, ToxiproxyServer

Handler = Callable[[Request], Awaitable[Response]]


def error_response(error: ApiError) -> Response:
    body = json.dumps({"error": error.message, "status": error.status}, separators=(",", ":"))
    return Response(
        body + "\n",
        status_code=error.status,
        media_type="text/plain; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def compact(document: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(document, separators=(",", ":")), status_code=status, media_type="application/json"
    )


async def body_of(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError("bad request body: EOF", 400)
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ApiError(f"bad request body: {error}", 400) from None


def create_api(server: ToxiproxyServer) -> ASGIApp:
    def handles(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return error_response(error)

        return wrapped

    @handles
    async def list_proxies(request: Request) -> Response:
        return compact({name: server.proxies[name].to_json() for name in sorted(server.proxies)})

    @handles
    async def create_proxy(request: Request) -> Response:
        return compact((await server.create(await body_of(request))).to_json(), 201)

    async def populate(request: Request) -> Response:
        try:
            done, error = await server.populate(await body_of(request))
        except ApiError as refused:
            done, error = [], refused
        proxies = [proxy.to_json() for proxy in done]
        if error is None:
            return compact({"proxies": proxies}, 201)
        # Toxiproxy's own body here: its nil list of nothing done is null.
        return compact(
            {"error": error.message, "status": error.status, "proxies": proxies or None}, error.status
        )

    @handles
    async def show_proxy(request: Request) -> Response:
        return compact(server.proxy(request.path_params["proxy"]).to_json())

    @handles
    async def update_proxy(request: Request) -> Response:
        return compact((await server.update(request.path_params["proxy"], await body_of(request))).to_json())

    @handles
    async def delete_proxy(request: Request) -> Response:
        await server.delete(request.path_params["proxy"])
        return Response(status_code=204)

    @handles
    async def list_toxics(request: Request) -> Response:
        proxy = server.proxy(request.path_params["proxy"])
        return compact([toxic.to_json() for chain in proxy.chains.values() for toxic in chain])

    @handles
    async def create_toxic(request: Request) -> Response:
        proxy = request.path_params["proxy"]
        server.proxy(proxy)  # 404 before looking at the body, as Toxiproxy does
        return compact(server.add_toxic(proxy, await body_of(request)).to_json())

    @handles
    async def show_toxic(request: Request) -> Response:
        return compact(server.toxic(request.path_params["proxy"], request.path_params["toxic"]).to_json())

    @handles
    async def update_toxic(request: Request) -> Response:
        proxy, toxic = request.path_params["proxy"], request.path_params["toxic"]
        server.toxic(proxy, toxic)
        return compact(server.update_toxic(proxy, toxic, await body_of(request)).to_json())

    @handles
    async def delete_toxic(request: Request) -> Response:
        server.remove_toxic(request.path_params["proxy"], request.path_params["toxic"])
        return Response(status_code=204)

    @handles
    async def reset(request: Request) -> Response:
        await server.reset()
        return Response(status_code=204)

    async def version(request: Request) -> Response:
        return Response(f'{{"version": "{VERSION}"}}\n', media_type="application/json;charset=utf-8")

    @handles
    async def stats(request: Request) -> Response:
        return compact(server.proxy(request.path_params["proxy"]).stats.to_json())

    routes = [
        Route("/proxies", list_proxies, methods=["GET"]),
        Route("/proxies", create_proxy, methods=["POST"]),
        Route("/populate", populate, methods=["POST"]),
        Route("/proxies/{proxy}", show_proxy, methods=["GET"]),
        Route("/proxies/{proxy}", update_proxy, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", delete_proxy, methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", list_toxics, methods=["GET"]),
        Route("/proxies/{proxy}/toxics", create_toxic, methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", show_toxic, methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", update_toxic, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", delete_toxic, methods=["DELETE"]),
        Route("/proxies/{proxy}/stats", stats, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/version", version, methods=["GET"]),
    ]

    async def missing(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("404 page not found\n", status_code=404)

    async def wrong_method(request: Request, exc: Exception) -> Response:
        return Response(status_code=405)  # gorilla/mux: empty body, no Allow header

    async def failed(request: Request, exc: Exception) -> Response:
        # Clients parse every error body as {"error", "status"}; the traceback still goes to the log.
        return error_response(ApiError(f"{type(exc).__name__}: {exc}", 500))

    app = Starlette(routes=routes, exception_handlers={404: missing, 405: wrong_method, Exception: failed})
    app.router.redirect_slashes = False  # /proxies/ is a 404 in Toxiproxy, not a redirect
    return ToxiproxyHeaders(app)


class ToxiproxyHeaders:
    """Browsers are refused (Toxiproxy's CSRF guard); everyone else gets a request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = dict(scope["headers"]).get(b"user-agent", b"")
        if agent.startswith(b"Mozilla/"):
            await PlainTextResponse("User agent not allowed\n", status_code=403)(scope, receive, send)
            return
        request_id = secrets.token_hex(10)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-toxiproxy-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, with_id)
