"""The fault proxy's HTTP API against any request at all: a clean answer (never a 5xx, a crash or
a hung connection), Toxiproxy's own error shapes for what it refuses, and a server still there."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzzing import BODIES, METHODS, paths

WORDS = ["proxies", "toxics", "reset", "version", "populate", "latency", "timeout", "upstream", "downstream"]


@pytest.fixture
def proxies_kept(api: httpx.Client) -> Iterator[None]:
    """Whatever proxy a generated request happens to create is deleted afterwards."""
    before = set(api.get("/proxies").json())
    yield
    for name in set(api.get("/proxies").json()) - before:
        api.delete(f"/proxies/{name}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=METHODS, path=paths(WORDS), body=BODIES)
def test_any_request_gets_a_clean_answer(
    api: httpx.Client, proxies_kept: None, method: str, path: str, body: bytes
) -> None:
    response = api.request(method, path, content=body)
    assert response.status_code < 500, (method, path, body, response.text)
    if response.status_code >= 400 and method != "HEAD":
        try:
            error = json.loads(response.text)
        except ValueError:
            # The router's own answers, as Toxiproxy's (gorilla/mux) are: "404 page not found" for
            # an unknown route, an empty 405 for a method the route does not serve.
            assert (response.status_code, response.text) in ((404, "404 page not found\n"), (405, ""))
        else:
            assert isinstance(error["error"], str)
            assert error["status"] == response.status_code
    assert api.get("/version").status_code == 200
