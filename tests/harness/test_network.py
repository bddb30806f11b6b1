"""The loopback ports golive hands to the processes it starts."""

from __future__ import annotations

import socket

from golive.fixtures.network import LOWEST_PICKED_PORT, ephemeral_port_range, free_port, listening_socket


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
