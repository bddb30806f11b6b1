"""The loopback ports golive hands to the processes it starts, and the claims that keep golive's
processes from picking one another's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.fixtures import network
from golive.fixtures.http_service import PortByNumber
from golive.fixtures.network import (
    LOWEST_PICKED_PORT,
    PortClaim,
    ephemeral_port_range,
    free_port,
    listening_socket,
    port_in_use,
    reserve_port,
)
from golive.fixtures.processes import ChildProcess, RunningProcess, start_on_free_port


def test_a_port_handed_over_by_number_is_one_no_outbound_connection_can_take() -> None:
    # A port inside the kernel's ephemeral range may become the local end of any connection the
    # machine opens in the moment between golive letting it go and the server binding it.
    first, last = ephemeral_port_range()
    assert first <= last
    ports = {free_port() for _ in range(200)}
    with listening_socket() as listener:
        ports.add(listener.getsockname()[1])
    assert all(port >= LOWEST_PICKED_PORT and not first <= port <= last for port in ports), sorted(ports)
    assert len(ports) > 150  # picked at random, not one after another


def test_a_free_port_can_be_bound_and_a_listening_socket_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()
    with listening_socket() as listener, socket.create_connection(listener.getsockname(), timeout=5):
        pass


class Dice:
    """Stands in for the port picker's generator: `first` first, then ports counted up from 20000."""

    def __init__(self, first: int) -> None:
        self.ports: Iterator[int] = iter([first, *range(20000, 30000)])

    def randrange(self, start: int, stop: int) -> int:
        return next(self.ports)


HOLD_A_CLAIM = """
from golive.fixtures.network import reserve_port
claim = reserve_port()
print(claim.port, flush=True)
input()
"""


@pytest.fixture
def claimed_elsewhere() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """A port another golive process claims, and that process (stopped by its stdin closing)."""
    argv = [sys.executable, "-c", HOLD_A_CLAIM]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            yield int(holder.stdout.readline()), holder
        finally:
            holder.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_no_golive_process_picks_a_port_another_one_claims(
    claimed_elsewhere: tuple[int, subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claimed port is free (nothing binds it yet): only the claim keeps it out of reach.
    claimed, _holder = claimed_elsewhere
    assert not port_in_use(claimed)
    monkeypatch.setattr(network, "_dice", Dice(claimed))
    assert free_port() != claimed
    monkeypatch.setattr(network, "_dice", Dice(claimed))
    with reserve_port() as claim:
        assert claim.port != claimed
    monkeypatch.setattr(network, "_dice", Dice(claimed))
    with listening_socket() as listener:
        assert listener.getsockname()[1] != claimed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_a_claim_ends_with_the_process_that_held_it_however_it_ends(
    claimed_elsewhere: tuple[int, subprocess.Popen[str]],
) -> None:
    claimed, holder = claimed_elsewhere
    assert PortClaim.take(claimed) is None
    holder.kill()  # no clean-up of its own
    holder.wait(10)
    with PortClaim.take(claimed) as claim:  # type: ignore[union-attr]
        assert claim.port == claimed
        assert PortClaim.take(claimed) is None  # one holder at a time, in one process too
    taken_again = PortClaim.take(claimed)
    assert taken_again is not None
    taken_again.release()


SERVE_HEALTH_ON_PORT = """
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Health).serve_forever()
"""


class Served(PortByNumber):
    """A server told its port by number, noting whether the port was claimed as it started."""

    claimed_while_starting: list[bool]

    def serve_on(self, host: str, port: int) -> RunningProcess:
        self.claimed_while_starting = [PortClaim.take(port) is None]
        env = {**os.environ, "HOST": host, "PORT": str(port)}
        argv = [sys.executable, "-c", SERVE_HEALTH_ON_PORT]
        return ChildProcess(self.name, argv, log_path=self.log_path, env=env).start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_a_server_told_its_port_has_it_claimed_until_it_is_ready(tmp_path: Path) -> None:
    served = Served("told", [], log_path=tmp_path / "log", ready_path="/health")
    try:
        served.start(timeout=30)
        assert served.claimed_while_starting == [True]
        claim = PortClaim.take(served.port)  # ready: bound by the server, the claim let go
        assert claim is not None
        claim.release()
    finally:
        served.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_a_server_started_on_a_free_port_has_it_claimed_until_it_is_ready(tmp_path: Path) -> None:
    # As Postgres and Redis are started: told the port on their command line.
    claimed_while_starting = []

    def argv_for(port: int) -> list[str]:
        claimed_while_starting.append(PortClaim.take(port) is None)
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    process, port = start_on_free_port(
        "told", argv_for, log_path=tmp_path / "log", ready=lambda port: True, bind_failure="-", timeout=10
    )
    try:
        assert claimed_while_starting == [True]
        claim = PortClaim.take(port)
        assert claim is not None
        claim.release()
    finally:
        process.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_the_port_of_a_dependency_that_is_down_stays_claimed_while_the_test_runs(
    golive_unused_port: int,
) -> None:
    # Another worker's stack must not start a server there: the dependency would come up.
    assert not port_in_use(golive_unused_port)
    assert PortClaim.take(golive_unused_port) is None
