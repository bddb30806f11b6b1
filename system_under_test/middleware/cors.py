"""CORS, with grants for allowed origins and allowed preflights only.

Starlette's CORSMiddleware adds Access-Control-Allow-Credentials (and Expose-Headers) to every
response that carries an Origin, allowed or not, and answers a refused preflight with its allowed
methods, headers and credentials all the same. Browsers still block what lacks a matching
Allow-Origin, but the guide's "credentials only for allowed origins" should hold on the wire too.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Send

_GRANTS = ("access-control-allow-credentials", "access-control-expose-headers")


class StrictCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 200:
            # Refused: a grant of anything (methods, headers, credentials, a cache age) is wrong.
            for name in [name for name in response.headers if name.startswith("access-control-")]:
                del response.headers[name]
        return response

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if message["type"] != "http.response.start" or origin is None or self.is_allowed_origin(origin):
            await super().send(message, send, request_headers)
            return

        async def without_grants(start: Message) -> None:
            headers = MutableHeaders(scope=start)
            for name in _GRANTS:
                del headers[name]
            await send(start)

        await super().send(message, without_grants, request_headers)
