"""The official toxiproxy-python client, unmodified, against our server: every call it makes."""

from __future__ import annotations

import pytest
import toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from tests.toxiproxy.conftest import EchoServer, round_trip


def test_version_and_running(official: toxiproxy.Toxiproxy) -> None:
    assert official.version() == b'{"version": "2.12.0"}\n'
    assert official.running()


def test_create_get_list_and_destroy(official: toxiproxy.Toxiproxy, echo: EchoServer) -> None:
    proxy = official.create(upstream=echo.address, name="echo")
    assert proxy.listen.startswith("127.0.0.1:")
    assert round_trip(proxy.listen, b"through the proxy") == b"through the proxy"
    assert set(official.proxies()) == {"echo"}
    assert official.get_proxy("echo").upstream == echo.address
    assert proxy.destroy()
    assert official.get_proxy("echo") is None


def test_duplicates_and_missing_things_raise_the_clients_errors(
    official: toxiproxy.Toxiproxy, echo: EchoServer
) -> None:
    official.create(upstream=echo.address, name="echo")
    with pytest.raises(ProxyExists):
        official.create(upstream=echo.address, name="echo")
    proxy = official.get_proxy("echo")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", stream="lolstream")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("nothing_here")


def test_create_disabled_then_enable_and_disable(official: toxiproxy.Toxiproxy, echo: EchoServer) -> None:
    proxy = official.create(upstream=echo.address, name="echo", enabled=False, listen="127.0.0.1:0")
    assert proxy.enabled is False
    proxy.enable()
    listen = official.get_proxy("echo").listen
    assert round_trip(listen) == b"ping"
    proxy.disable()
    with pytest.raises(ConnectionRefusedError):
        round_trip(listen)
    with proxy.down():
        assert official.get_proxy("echo").enabled is False
    assert official.get_proxy("echo").enabled is True


@pytest.mark.parametrize(
    ("kind", "attributes"),
    [
        ("latency", {"latency": 5, "jitter": 1}),
        ("bandwidth", {"rate": 100}),
        ("slow_close", {"delay": 10}),
        ("timeout", {"timeout": 0}),
        ("reset_peer", {"timeout": 0}),
        ("slicer", {"average_size": 4, "size_variation": 1, "delay": 10}),
        ("limit_data", {"bytes": 100}),
        ("noop", {}),
    ],
)
def test_every_toxic_type_through_the_client(
    official: toxiproxy.Toxiproxy, echo: EchoServer, kind: str, attributes: dict[str, int]
) -> None:
    proxy = official.create(upstream=echo.address, name="echo")
    proxy.add_toxic(type=kind, attributes=attributes, stream="upstream", toxicity=0.5)
    toxic = proxy.get_toxic(f"{kind}_upstream")
    assert toxic is not None
    assert toxic.type == kind
    assert toxic.stream == "upstream"
    assert toxic.toxicity == 0.5
    assert toxic.attributes == attributes
    assert proxy.destroy_toxic(f"{kind}_upstream")
    assert proxy.toxics() == {}


def test_reset_and_destroy_all(official: toxiproxy.Toxiproxy, echo: EchoServer) -> None:
    proxy = official.create(upstream=echo.address, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 1000})
    proxy.disable()
    assert official.reset()
    restored = official.get_proxy("echo")
    assert restored.enabled is True
    assert restored.toxics() == {}
    official.create(upstream=echo.address, name="second")
    official.destroy_all()
    assert official.proxies() == {}


def test_populate_through_the_client(official: toxiproxy.Toxiproxy, echo: EchoServer) -> None:
    official.populate([{"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert set(official.proxies()) == {"one"}
