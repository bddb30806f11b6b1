"""httpx clients for golive's own requests (the harness, its suites and tests), all on one TLS
context.

httpx builds a TLS context for every client it makes, parsing the CA bundle again (about 20 ms
of CPU), although nearly every client golive makes speaks plain HTTP to a loopback server for a
few requests. A quick validation made thousands of them: a sixth of all its CPU time went there
(py-spy over the whole process tree). A TLS context is safe to share between clients and threads,
so one, made on first use as httpx makes its default, serves them all; a client given its own
`verify` keeps it.
"""

from __future__ import annotations

import ssl
from functools import cache, partial
from typing import Any

import httpx

# httpx.request's options that belong to the client it makes; the rest are the request's.
_CLIENT_OPTIONS = frozenset({"cookies", "proxy", "verify", "timeout", "trust_env"})


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR), made once."""
    return httpx.create_ssl_context()


class Client(httpx.Client):
    def __init__(self, **options: Any) -> None:
        options.setdefault("verify", tls_context())
        super().__init__(**options)


class AsyncClient(httpx.AsyncClient):
    def __init__(self, **options: Any) -> None:
        options.setdefault("verify", tls_context())
        super().__init__(**options)


def request(method: str, url: str, **options: Any) -> httpx.Response:
    """`httpx.request`: one request on a client of its own."""
    settings = {name: options.pop(name) for name in _CLIENT_OPTIONS & options.keys()}
    with Client(**settings) as client:
        return client.request(method, url, **options)


# The methods golive sends one-off requests with.
get = partial(request, "GET")
post = partial(request, "POST")
put = partial(request, "PUT")
delete = partial(request, "DELETE")
