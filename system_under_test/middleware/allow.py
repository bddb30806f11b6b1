"""A 405 lists every method its path serves in `Allow`. Starlette answers a method a path does
not serve from the first route matching the path, so a path whose methods are declared as
separate routes (GET and POST, as FastAPI declares them) would advertise only one of them."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .routes import RouteTable


class AllowHeaderMiddleware:
    def __init__(self, app: ASGIApp, routes: RouteTable) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self._methods(scope)
                if methods:
                    MutableHeaders(scope=message)["allow"] = ", ".join(sorted(methods))
            await send(message)

        await self.app(scope, receive, send_with_allow)

    def _methods(self, scope: Scope) -> set[str]:
        matching = [route for route in self.routes.templates if route.pattern.fullmatch(scope["path"])]
        # As OpenAPI resolves paths: a concrete one (/content/generate) before a templated one
        # (/content/{content_id}) that happens to match it too.
        concrete = [route for route in matching if "{" not in route.template]
        return {method for route in concrete or matching for method in route.methods}
