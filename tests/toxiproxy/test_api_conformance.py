"""Toxiproxy 2.12.0's API as clients see it: routes, status codes, shapes and error bodies."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from golive.chaos.toxiproxy.api import create_api
from golive.chaos.toxiproxy.server import ToxiproxyServer
from golive.core import http_clients
from tests.toxiproxy.conftest import EchoServer


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def error(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.endswith("}\n")
    document: dict[str, object] = json.loads(response.text)
    return document


def populate_error(response: httpx.Response) -> dict[str, object]:
    """/populate's errors: Toxiproxy's handler writes them itself, as JSON, with no newline."""
    assert response.headers["content-type"] == "application/json"
    document: dict[str, object] = json.loads(response.text)
    assert list(document) == ["error", "status", "proxies"]
    assert response.text == json.dumps(document, separators=(",", ":"))
    assert document["status"] == response.status_code
    return document


def make(api: httpx.Client, echo: EchoServer, name: str = "echo", **extra: object) -> httpx.Response:
    return api.post(
        "/proxies", json={"name": name, "upstream": echo.address, "listen": "127.0.0.1:0", **extra}
    )


def test_version_is_toxiproxys_exact_body(api: httpx.Client) -> None:
    response = api.get("/version")
    assert response.status_code == 200
    assert response.text == '{"version": "2.12.0"}\n'
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers["x-toxiproxy-request-id"]


def test_proxy_shape_and_listen_normalisation(api: httpx.Client, echo: EchoServer) -> None:
    created = make(api, echo)
    assert created.status_code == 201
    proxy = created.json()
    assert list(proxy) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert proxy["listen"].startswith("127.0.0.1:")
    assert proxy["listen"] != "127.0.0.1:0"
    assert (proxy["enabled"], proxy["Logger"], proxy["toxics"]) == (True, {}, [])
    assert api.get("/proxies/echo").json() == proxy
    assert created.text == json.dumps(proxy, separators=(",", ":"))  # compact, as Go writes it


def test_proxies_are_listed_by_name(api: httpx.Client, echo: EchoServer) -> None:
    for name in ("b", "a", "c"):
        make(api, echo, name)
    assert list(api.get("/proxies").json()) == ["a", "b", "c"]


def test_a_disabled_proxy_keeps_its_listen_verbatim(api: httpx.Client, echo: EchoServer) -> None:
    response = api.post(
        "/proxies",
        json={"name": "off", "upstream": echo.address, "listen": "localhost:3310", "enabled": False},
    )
    assert response.status_code == 201
    assert response.json()["listen"] == "localhost:3310"
    assert response.json()["enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("", 400, "bad request body: EOF"),
        ("{not json", 400, "bad request body: "),
        ('{"upstream": "x:1"}', 400, "missing required field: name"),
        ('{"name": "n"}', 400, "missing required field: upstream"),
        (
            '{"name": "n", "upstream": "x:1", "listen": "127.0.0.1:TAKEN"}',
            500,
            "listen tcp 127.0.0.1:TAKEN: bind: ",
        ),
    ],
)
def test_proxy_creation_errors(api: httpx.Client, taken: int, body: str, status: int, message: str) -> None:
    body, message = body.replace("TAKEN", str(taken)), message.replace("TAKEN", str(taken))
    response = api.post("/proxies", content=body)
    assert response.status_code == status
    document = error(response)
    assert document["status"] == status
    assert str(document["error"]).startswith(message)


def test_duplicate_proxy_is_409(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    response = make(api, echo)
    assert response.status_code == 409
    assert error(response) == {"error": "proxy already exists", "status": 409}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/proxies/ghost"),
        ("DELETE", "/proxies/ghost"),
        ("GET", "/proxies/ghost/toxics"),
        ("POST", "/proxies/ghost"),
    ],
)
def test_unknown_proxy_is_404(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json={})
    assert response.status_code == 404
    assert error(response) == {"error": "proxy not found", "status": 404}


def test_unknown_paths_and_wrong_methods_answer_like_gorilla_mux(api: httpx.Client) -> None:
    missing = api.get("/nope")
    assert (missing.status_code, missing.text) == (404, "404 page not found\n")
    assert api.get("/proxies/").status_code == 404  # no trailing-slash redirect
    wrong = api.delete("/version")
    assert (wrong.status_code, wrong.text) == (405, "")


def test_browsers_are_refused(api: httpx.Client) -> None:
    response = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert (response.status_code, response.text) == (403, "User agent not allowed\n")


def test_update_with_post_or_patch(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    assert api.post("/proxies/echo", json={"enabled": False}).json()["enabled"] is False
    assert api.patch("/proxies/echo", json={"enabled": True}).json()["enabled"] is True


def test_toxic_shape_defaults_and_status(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    response = api.post("/proxies/echo/toxics", json={"type": "latency", "attributes": {"latency": 100}})
    assert response.status_code == 200  # not 201: Toxiproxy never writes a header there
    toxic = response.json()
    assert toxic == {
        "attributes": {"latency": 100, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert api.get("/proxies/echo/toxics/latency_downstream").json() == toxic
    assert api.get("/proxies/echo").json()["toxics"] == [toxic]


def test_stream_is_echoed_as_sent_and_upstream_toxics_list_first(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    api.post("/proxies/echo/toxics", json={"type": "latency", "stream": "downstream"})
    up = api.post("/proxies/echo/toxics", json={"type": "latency", "stream": "UpStream"}).json()
    assert up["name"] == "latency_UpStream"
    assert [toxic["stream"] for toxic in api.get("/proxies/echo/toxics").json()] == ["UpStream", "downstream"]


@pytest.mark.parametrize(
    ("toxic", "status", "message"),
    [
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "latency", "stream": ""}, 400, "stream was invalid, can be either upstream or downstream"),
        ({"type": "down"}, 400, "invalid toxic type"),
        ({"type": "latency", "attributes": {"latency": "slow"}}, 400, "bad request body: latency: "),
        ({"type": "latency", "attributes": {"latency": 1.5}}, 400, "bad request body: latency: "),
        ({"type": "bandwidth", "attributes": {"rate": -1}}, 400, "bad request body: rate: "),
        (
            {"type": "slicer", "attributes": {"average_size": 0}},
            400,
            "bad request body: average_size must be positive",
        ),
        (
            {"type": "slicer", "attributes": {"average_size": 4, "size_variation": 8}},
            400,
            "bad request body: size_variation",
        ),
        ({"type": "latency", "toxicity": 2}, 400, "bad request body: toxicity"),
        ({"type": "latency", "attributes": []}, 400, "bad request body: attributes must be an object"),
    ],
)
def test_bad_toxics_are_400_never_a_crash(
    api: httpx.Client, echo: EchoServer, toxic: dict[str, object], status: int, message: str
) -> None:
    make(api, echo)
    response = api.post("/proxies/echo/toxics", json=toxic)
    assert response.status_code == status
    assert str(error(response)["error"]).startswith(message)
    assert api.get("/version").status_code == 200  # the server is still there


def test_attributes_may_be_null_or_missing_and_unknown_ones_are_ignored(
    api: httpx.Client, echo: EchoServer
) -> None:
    make(api, echo)
    assert api.post("/proxies/echo/toxics", json={"type": "latency", "attributes": None}).json()[
        "attributes"
    ] == {"latency": 0, "jitter": 0}
    bandwidth = api.post(
        "/proxies/echo/toxics", json={"type": "bandwidth", "attributes": {"rate": 5, "bogus": 1}}
    )
    assert bandwidth.json()["attributes"] == {"rate": 5}


def test_toxic_names_are_unique_across_streams(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    api.post("/proxies/echo/toxics", json={"type": "latency", "name": "slow"})
    response = api.post(
        "/proxies/echo/toxics", json={"type": "timeout", "name": "slow", "stream": "upstream"}
    )
    assert response.status_code == 409
    assert error(response) == {"error": "toxic already exists", "status": 409}


def test_toxic_update_merges_attributes_and_ignores_the_rest(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    api.post("/proxies/echo/toxics", json={"type": "latency", "attributes": {"latency": 100, "jitter": 10}})
    updated = api.patch(
        "/proxies/echo/toxics/latency_downstream",
        json={"attributes": {"latency": 200}, "name": "renamed", "type": "timeout", "stream": "upstream"},
    ).json()
    assert updated["attributes"] == {"latency": 200, "jitter": 10}
    assert (updated["name"], updated["type"], updated["stream"]) == (
        "latency_downstream",
        "latency",
        "downstream",
    )
    assert (
        api.post("/proxies/echo/toxics/latency_downstream", json={"toxicity": 0.5}).json()["toxicity"] == 0.5
    )


def test_toxic_delete_and_404s(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    api.post("/proxies/echo/toxics", json={"type": "latency"})
    assert api.delete("/proxies/echo/toxics/latency_downstream").status_code == 204
    for method in ("GET", "DELETE", "PATCH"):
        response = api.request(method, "/proxies/echo/toxics/latency_downstream", json={})
        assert response.status_code == 404
        assert error(response) == {"error": "toxic not found", "status": 404}


def test_reset_reenables_and_removes_every_toxic(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    api.post("/proxies/echo/toxics", json={"type": "latency"})
    api.post("/proxies/echo", json={"enabled": False})
    assert api.post("/reset").status_code == 204
    proxy = api.get("/proxies/echo").json()
    assert (proxy["enabled"], proxy["toxics"]) == (True, [])


def test_populate_creates_keeps_and_replaces(api: httpx.Client, echo: EchoServer) -> None:
    first = api.post("/populate", json=[{"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert first.status_code == 201
    one = first.json()["proxies"][0]
    api.post("/proxies/one/toxics", json={"type": "latency"})
    # The same definition (with the port it got) keeps the proxy and its toxics...
    again = api.post(
        "/populate", json=[{"name": "one", "upstream": echo.address, "listen": one["listen"]}]
    ).json()
    assert again["proxies"][0]["toxics"]
    # ...a different one replaces it, without toxics.
    moved = api.post(
        "/populate", json=[{"name": "one", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"}]
    ).json()
    assert moved["proxies"][0]["toxics"] == []


def test_populate_validates_everything_before_creating_anything(api: httpx.Client, echo: EchoServer) -> None:
    response = api.post(
        "/populate", json=[{"name": "ok", "upstream": echo.address}, {"upstream": echo.address}]
    )
    assert response.status_code == 400
    assert populate_error(response) == {
        "error": "missing required field: name at proxy 2",
        "status": 400,
        "proxies": None,
    }
    assert api.get("/proxies").json() == {}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("", 400, "bad request body: EOF"),
        ("[{not json", 400, "bad request body: "),
        ('{"name": "p", "upstream": "127.0.0.1:1"}', 400, "bad request body: json: cannot unmarshal object "),
        (
            '[{"name": "p", "upstream": "127.0.0.1:1", "enabled": "yes"}]',
            400,
            "bad request body: json: cannot unmarshal string into Go struct field .enabled of type bool",
        ),
        (
            '[{"name": "p", "upstream": "127.0.0.1:1"}, {"name": 7, "upstream": "127.0.0.1:1"}]',
            400,
            "bad request body: json: cannot unmarshal number into Go struct field .name of type string",
        ),
        (
            '[{"name": "p", "upstream": "127.0.0.1:1"}, "p"]',
            400,
            "bad request body: json: cannot unmarshal string ",
        ),
        ('[{"name": "p"}]', 400, "missing required field: upstream at proxy 1"),
        ('[{"name": "p", "upstream": "127.0.0.1:1"}, null]', 400, "missing required field: name at proxy 2"),
        ('[{"name": "p", "upstream": "127.0.0.1:1", "toxics": 5}]', 400, "bad request body: toxics must be"),
        (
            '[{"name": "p", "upstream": "127.0.0.1:1", "toxics": [{"type": "nope"}]}]',
            400,
            "invalid toxic type",
        ),
        (
            '[{"name": "p", "upstream": "127.0.0.1:1", "toxics": [{"type": "noop"}, {"type": "noop"}]}]',
            409,
            "toxic already exists",
        ),
    ],
)
def test_populate_errors_are_json_with_null_proxies_and_nothing_made(
    api: httpx.Client, body: str, status: int, message: str
) -> None:
    response = api.post("/populate", content=body)
    assert response.status_code == status
    document = populate_error(response)
    assert str(document["error"]).startswith(message)
    assert document["proxies"] is None  # Toxiproxy's nil list: nothing was done
    assert api.get("/proxies").json() == {}


def test_populate_stops_at_a_bind_failure_and_reports_what_it_made(
    api: httpx.Client, echo: EchoServer, taken: int
) -> None:
    response = api.post(
        "/populate",
        json=[
            {"name": "made", "upstream": echo.address, "listen": "127.0.0.1:0"},
            {"name": "clash", "upstream": echo.address, "listen": f"127.0.0.1:{taken}"},
            {"name": "never", "upstream": echo.address, "listen": "127.0.0.1:0"},
        ],
    )
    assert response.status_code == 500
    document = populate_error(response)
    assert str(document["error"]).startswith(f"listen tcp 127.0.0.1:{taken}: bind: ")
    assert [proxy["name"] for proxy in document["proxies"]] == ["made"]  # type: ignore[attr-defined]
    assert list(api.get("/proxies").json()) == ["made"]


def test_populate_with_nothing_answers_an_empty_list(api: httpx.Client) -> None:
    # Toxiproxy answers null, which makes toxiproxy-node-client throw; [] is what clients iterate.
    assert api.post("/populate", json=[]).json() == {"proxies": []}


def test_populate_accepts_toxics_beyond_toxiproxy(api: httpx.Client, echo: EchoServer) -> None:
    response = api.post(
        "/populate",
        json=[
            {
                "name": "t",
                "upstream": echo.address,
                "toxics": [{"type": "latency", "attributes": {"latency": 5}}],
            }
        ],
    )
    assert response.status_code == 201
    assert response.json()["proxies"][0]["toxics"][0]["attributes"]["latency"] == 5
    bad = api.post("/populate", json=[{"name": "u", "upstream": echo.address, "toxics": [{"type": "nope"}]}])
    assert bad.status_code == 400
    assert "u" not in api.get("/proxies").json()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("enabled", "yes", "cannot unmarshal string into Go struct field Proxy.enabled of type bool"),
        ("enabled", 1, "cannot unmarshal number into Go struct field Proxy.enabled of type bool"),
        ("name", 7, "cannot unmarshal number into Go struct field Proxy.name of type string"),
        ("name", True, "cannot unmarshal bool into Go struct field Proxy.name of type string"),
        ("listen", 8474, "cannot unmarshal number into Go struct field Proxy.listen of type string"),
        (
            "upstream",
            ["127.0.0.1:1"],
            "cannot unmarshal array into Go struct field Proxy.upstream of type string",
        ),
        (
            "upstream",
            {"host": "x"},
            "cannot unmarshal object into Go struct field Proxy.upstream of type string",
        ),
    ],
)
def test_wrong_json_types_are_refused_on_proxy_create_and_update(
    api: httpx.Client, echo: EchoServer, field: str, value: object, message: str
) -> None:
    body = {"name": "other", "upstream": echo.address, "listen": "127.0.0.1:0", field: value}
    created = api.post("/proxies", json=body)
    assert created.status_code == 400
    assert error(created) == {"error": f"bad request body: json: {message}", "status": 400}
    assert "other" not in api.get("/proxies").json()
    before = make(api, echo).json()
    updated = api.post("/proxies/echo", json={field: value})
    assert updated.status_code == 400
    assert error(updated) == {"error": f"bad request body: json: {message}", "status": 400}
    assert api.get("/proxies/echo").json() == before


def test_a_proxy_body_that_is_not_an_object_is_refused(api: httpx.Client, echo: EchoServer) -> None:
    response = api.post("/proxies", json=["echo"])
    assert response.status_code == 400
    assert error(response)["error"] == (
        "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy"
    )


def test_a_null_body_sets_nothing(api: httpx.Client, echo: EchoServer) -> None:
    # Go decodes null into a struct as no field at all: what follows is what an empty object gets.
    assert error(api.post("/proxies", content="null"))["error"] == "missing required field: name"
    before = make(api, echo).json()
    assert api.post("/proxies/echo", content="null").json() == before
    assert error(api.post("/proxies/echo/toxics", content="null"))["error"] == "invalid toxic type"
    assert api.post("/populate", content="null").json() == {"proxies": []}


def test_null_fields_are_left_as_they_were(api: httpx.Client, echo: EchoServer) -> None:
    # Go's decoder leaves a field untouched for null: the defaults on create, the current values on update.
    created = make(api, echo, enabled=None)
    assert created.json()["enabled"] is True
    updated = api.patch("/proxies/echo", json={"enabled": None, "listen": None, "upstream": None})
    assert updated.json() == created.json()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", 7, "cannot unmarshal number into Go struct field ToxicWrapper.name of type string"),
        ("type", ["latency"], "cannot unmarshal array into Go struct field ToxicWrapper.type of type string"),
        ("stream", 1, "cannot unmarshal number into Go struct field ToxicWrapper.stream of type string"),
        (
            "toxicity",
            "1",
            "cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32",
        ),
        (
            "toxicity",
            True,
            "cannot unmarshal bool into Go struct field ToxicWrapper.toxicity of type float32",
        ),
    ],
)
def test_wrong_json_types_are_refused_on_toxic_create(
    api: httpx.Client, echo: EchoServer, field: str, value: object, message: str
) -> None:
    make(api, echo)
    response = api.post("/proxies/echo/toxics", json={"type": "latency", field: value})
    assert response.status_code == 400
    assert error(response) == {"error": f"bad request body: json: {message}", "status": 400}
    assert api.get("/proxies/echo/toxics").json() == []


def test_wrong_json_types_are_refused_on_toxic_update(api: httpx.Client, echo: EchoServer) -> None:
    make(api, echo)
    toxic = api.post("/proxies/echo/toxics", json={"type": "latency", "toxicity": 0.5}).json()
    for value, kind in (("1", "string"), (False, "bool"), ([1], "array")):
        response = api.patch("/proxies/echo/toxics/latency_downstream", json={"toxicity": value})
        assert response.status_code == 400
        assert error(response)["error"] == (
            f"bad request body: json: cannot unmarshal {kind} into Go struct field .toxicity of type float32"
        )
    assert api.get("/proxies/echo/toxics/latency_downstream").json() == toxic
    # An update decodes only attributes and toxicity: Toxiproxy never looks at the others' types.
    ignored = api.patch("/proxies/echo/toxics/latency_downstream", json={"name": 1, "type": [], "stream": {}})
    assert (ignored.status_code, ignored.json()) == (200, toxic)


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("POST", "/proxies/echo/toxics", {"type": "latency", "toxicity": 2.0}, "bad request body: toxicity"),
        ("POST", "/proxies/echo/toxics", {"type": "latency", "toxicity": -0.5}, "bad request body: toxicity"),
        (
            "POST",
            "/proxies/echo/toxics",
            {"type": "latency", "attributes": {"latency": -5}},
            "bad request body: latency: ",
        ),
        ("PATCH", "/proxies/echo/toxics/slow", {"toxicity": 2.0}, "bad request body: toxicity"),
        ("PATCH", "/proxies/echo/toxics/slow", {"attributes": {"jitter": -5}}, "bad request body: jitter: "),
    ],
)
def test_values_toxiproxy_accepts_but_golive_refuses(
    api: httpx.Client, echo: EchoServer, method: str, path: str, body: dict[str, object], message: str
) -> None:
    """Deliberate differences (README: "Fault proxy: differences from Toxiproxy"): a toxicity
    outside 0..1 and negative durations are 400s here, never a toxic that silently misbehaves."""
    make(api, echo)
    slow = api.post("/proxies/echo/toxics", json={"type": "latency", "name": "slow"}).json()
    response = api.request(method, path, json=body)
    assert response.status_code == 400
    assert str(error(response)["error"]).startswith(message)
    assert api.get("/proxies/echo/toxics").json() == [slow]


class _BrokenServer(ToxiproxyServer):
    """A failure nothing foreseen (no request can make one on purpose: it would be a bug)."""

    async def reset(self) -> None:
        raise RuntimeError("the unforeseen")


async def test_an_unforeseen_failure_is_a_500_in_toxiproxys_error_shape() -> None:
    transport = httpx.ASGITransport(create_api(_BrokenServer()), raise_app_exceptions=False)
    async with http_clients.AsyncClient(transport=transport, base_url="http://toxiproxy") as client:
        response = await client.post("/reset")
    assert response.status_code == 500
    assert error(response) == {"error": "RuntimeError: the unforeseen", "status": 500}
