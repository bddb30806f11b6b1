from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import httpx
import pytest
import toxiproxy
from toxiproxy.api import APIConsumer

from golive.core import http_clients
from golive.fixtures.toxiproxy import ToxiproxyClient, ToxiproxyService


@pytest.fixture(scope="session")
def toxiproxy_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyService]:
    service = ToxiproxyService(tmp_path_factory.mktemp("toxiproxy"), seed=7).start()
    yield service
    service.stop()


@pytest.fixture
def api(toxiproxy_service: ToxiproxyService) -> Iterator[httpx.Client]:
    """Raw HTTP to the API, and a clean server after the test (no proxies, no toxics)."""
    with http_clients.Client(base_url=toxiproxy_service.url, timeout=30) as client:
        yield client
        for name in list(client.get("/proxies").json()):
            client.delete(f"/proxies/{name}")


@pytest.fixture
def client(toxiproxy_service: ToxiproxyService, api: httpx.Client) -> Iterator[ToxiproxyClient]:
    harness_client = toxiproxy_service.client()
    yield harness_client
    harness_client.close()


@pytest.fixture
def official(toxiproxy_service: ToxiproxyService, api: httpx.Client) -> toxiproxy.Toxiproxy:
    """The official toxiproxy-python client, pointed at the server under test."""
    host, port = toxiproxy_service.url.removeprefix("http://").split(":")
    APIConsumer.host, APIConsumer.port = host, int(port)
    return toxiproxy.Toxiproxy()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
            # The client half-closed: answer that we saw it, then close our side.
            self.request.sendall(b"<eof>")
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client went away (or was reset by a toxic): nothing to echo to


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def connect(listen: str) -> socket.socket:
    host, port = listen.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def round_trip(listen: str, payload: bytes = b"ping") -> bytes:
    with connect(listen) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received
