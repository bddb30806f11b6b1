"""What each toxic does to real bytes on real sockets, live, as Toxiproxy does it."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from golive.core import http_clients
from golive.fixtures.toxiproxy import ToxiproxyClient
from tests.toxiproxy.conftest import EchoServer, connect, round_trip


@pytest.fixture
def listen(client: ToxiproxyClient, echo: EchoServer) -> str:
    listen: str = client.create("echo", echo.address)["listen"]
    return listen


def drain(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def timed_round_trip(listen: str, payload: bytes = b"ping") -> float:
    started = time.perf_counter()
    assert round_trip(listen, payload) == payload
    return time.perf_counter() - started


def test_no_toxics_pass_bytes_unchanged(listen: str) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    assert round_trip(listen, payload) == payload


def test_latency_delays_each_direction_it_is_on(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "latency", {"latency": 150}):
        assert timed_round_trip(listen) >= 0.15
    with (
        client.toxic("echo", "latency", {"latency": 100}, stream="upstream"),
        client.toxic("echo", "latency", {"latency": 100}),
    ):
        assert timed_round_trip(listen) >= 0.2
    assert timed_round_trip(listen) < 0.1


def test_a_toxic_applies_to_connections_already_open(client: ToxiproxyClient, listen: str) -> None:
    with connect(listen) as sock:
        sock.sendall(b"a")
        assert sock.recv(10) == b"a"
        with client.toxic("echo", "latency", {"latency": 200}):
            started = time.perf_counter()
            sock.sendall(b"b")
            assert sock.recv(10) == b"b"
            assert time.perf_counter() - started >= 0.2
        started = time.perf_counter()
        sock.sendall(b"c")
        assert sock.recv(10) == b"c"
        assert time.perf_counter() - started < 0.1


def test_removing_a_toxic_releases_the_data_it_holds(client: ToxiproxyClient, listen: str) -> None:
    client.add_toxic("echo", "latency", {"latency": 30_000})
    with connect(listen) as sock:
        sock.sendall(b"held")
        time.sleep(0.1)  # let the chunk reach the toxic and start its 30 s wait
        client.remove_toxic("echo", "latency_downstream")
        sock.settimeout(5)
        assert sock.recv(10) == b"held"


def test_bandwidth_limits_throughput(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "bandwidth", {"rate": 100}):  # 100 KB/s
        elapsed = timed_round_trip(listen, b"x" * 50_000)
    assert 0.45 <= elapsed <= 1.5, elapsed


def test_bandwidth_zero_stalls_until_removed(client: ToxiproxyClient, listen: str) -> None:
    client.add_toxic("echo", "bandwidth", {"rate": 0})
    with connect(listen) as sock:
        sock.sendall(b"stuck")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        client.remove_toxic("echo", "bandwidth_downstream")
        sock.settimeout(5)
        assert sock.recv(10) == b"stuck"


def test_timeout_drops_data_then_closes(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "timeout", {"timeout": 200}, stream="upstream"), connect(listen) as sock:
        sock.sendall(b"lost")
        started = time.perf_counter()
        assert sock.recv(10) == b""  # closed, nothing came back
        assert time.perf_counter() - started >= 0.15


def test_removing_a_timeout_closes_its_connections(client: ToxiproxyClient, listen: str) -> None:
    client.add_toxic("echo", "timeout", {"timeout": 0})
    with connect(listen) as sock:
        sock.sendall(b"x")
        time.sleep(0.05)
        client.remove_toxic("echo", "timeout_downstream")
        assert sock.recv(10) == b""


def test_reset_peer_resets_the_connection(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "reset_peer", {"timeout": 50}, stream="upstream"), connect(listen) as sock:
        sock.sendall(b"anything")
        with pytest.raises(ConnectionResetError):
            drain(sock)


def test_slicer_delivers_everything_in_small_pieces(client: ToxiproxyClient, listen: str) -> None:
    # 5 ms between slices: a reader slowed by a busy machine still sees them apart (at 100 us, a
    # loaded CI machine read two reads' worth at once).
    slicer = {"average_size": 10, "size_variation": 5, "delay": 5000}
    with client.toxic("echo", "slicer", slicer), connect(listen) as sock:
        sock.sendall(b"y" * 300)
        pieces = []
        received = 0
        while received < 300:
            piece = sock.recv(65536)
            pieces.append(len(piece))
            received += len(piece)
    assert received == 300
    assert len(pieces) > 5


def test_limit_data_truncates_then_closes(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "limit_data", {"bytes": 10}), connect(listen) as sock:
        sock.sendall(b"0123456789abcdef")
        received = b""
        while chunk := sock.recv(100):
            received += chunk
    assert received == b"0123456789"


def test_slow_close_delays_the_close(client: ToxiproxyClient, listen: str) -> None:
    with client.toxic("echo", "slow_close", {"delay": 300}), connect(listen) as sock:
        sock.sendall(b"bye")
        started = time.perf_counter()
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(10):
            received += chunk
        assert received == b"bye<eof>"  # the data is not held, only the close
        assert time.perf_counter() - started >= 0.25


def test_half_close_reaches_the_server_and_its_answer_comes_back(listen: str) -> None:
    # Toxiproxy closes both ways on a client's shutdown(SHUT_WR), losing the server's answer.
    with connect(listen) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(100):
            received += chunk
    assert received == b"last words<eof>"


def test_a_disabled_proxy_refuses_and_drops_its_connections(client: ToxiproxyClient, listen: str) -> None:
    with connect(listen) as sock:
        client.set_enabled("echo", False)
        assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(listen)
    client.set_enabled("echo", True)
    assert round_trip(listen) == b"ping"


def test_an_unreachable_upstream_closes_the_client_without_data(
    client: ToxiproxyClient, golive_unused_port: int
) -> None:
    listen = client.create("nowhere", f"127.0.0.1:{golive_unused_port}")["listen"]
    with connect(listen) as sock:
        assert sock.recv(10) == b""


def test_toxicity_is_reproducible_with_a_seed(
    toxiproxy_service: object, echo: EchoServer, tmp_path: object
) -> None:
    from pathlib import Path

    from golive.fixtures.toxiproxy import ToxiproxyService

    patterns = []
    for _ in range(2):
        service = ToxiproxyService(Path(str(tmp_path)), seed=42).start()
        try:
            client = service.client()
            listen = client.create("echo", echo.address)["listen"]
            client.add_toxic("echo", "timeout", {"timeout": 0}, toxicity=0.5)
            outcomes = []
            for _ in range(12):
                with connect(listen) as sock:
                    sock.sendall(b"?")
                    sock.settimeout(0.2)
                    try:
                        outcomes.append(sock.recv(10) == b"?")
                    except TimeoutError:
                        outcomes.append(False)
            patterns.append(outcomes)
        finally:
            service.stop()
    assert patterns[0] == patterns[1]
    assert True in patterns[0]
    assert False in patterns[0]


def test_counters_are_live(client: ToxiproxyClient, listen: str, toxiproxy_service: object) -> None:
    from golive.fixtures.toxiproxy import ToxiproxyService

    assert isinstance(toxiproxy_service, ToxiproxyService)
    with connect(listen) as sock:
        sock.sendall(b"12345")
        assert sock.recv(10) == b"12345"
        stats = http_clients.get(f"{toxiproxy_service.url}/proxies/echo/stats", timeout=10).json()
        assert stats["connections_active"] == 1
        assert stats["bytes_upstream"] == 5
        assert stats["bytes_downstream"] == 5
    assert stats["connections_total"] == 1


def test_the_api_stays_responsive_while_toxics_come_and_go_under_load(
    client: ToxiproxyClient, listen: str
) -> None:
    import threading

    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                round_trip(listen, b"z" * 10_000)

    workers = [threading.Thread(target=traffic) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        slowest = 0.0
        for _ in range(20):
            started = time.perf_counter()
            client.add_toxic("echo", "bandwidth", {"rate": 0})
            client.add_toxic("echo", "latency", {"latency": 10_000}, stream="upstream")
            client.remove_toxic("echo", "bandwidth_downstream")
            client.remove_toxic("echo", "latency_upstream")
            slowest = max(slowest, time.perf_counter() - started)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
    # Toxiproxy's API times out at 25 s here (issues #500, #558): removal must never wait for data.
    assert slowest < 5


def test_chunk_scoped_toxicity_rolls_per_chunk_on_one_connection(
    client: ToxiproxyClient, listen: str
) -> None:
    # Toxiproxy rolls once per connection: one pooled connection is then all-or-nothing.
    client.add_toxic("echo", "latency", {"latency": 150}, toxicity=0.5, toxicity_scope="chunk")
    toxic = client._call("GET", "/proxies/echo/toxics/latency_downstream")
    assert toxic["toxicity_scope"] == "chunk"
    with connect(listen) as sock:
        slow = 0
        for _ in range(16):
            started = time.perf_counter()
            sock.sendall(b"x")
            assert sock.recv(10) == b"x"
            slow += time.perf_counter() - started >= 0.15
    assert 0 < slow < 16


def test_connection_scoped_toxicity_is_all_or_nothing_per_connection(
    client: ToxiproxyClient, listen: str
) -> None:
    # 400 ms against a scheduling hiccup of a loaded machine: the two kinds cannot be confused.
    client.add_toxic("echo", "latency", {"latency": 400}, toxicity=0.5)
    with connect(listen) as sock:
        outcomes = set()
        for _ in range(6):
            started = time.perf_counter()
            sock.sendall(b"x")
            assert sock.recv(10) == b"x"
            outcomes.add(time.perf_counter() - started >= 0.4)
    assert len(outcomes) == 1
