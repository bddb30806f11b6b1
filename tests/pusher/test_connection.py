"""Connecting: the handshake's checks, connection_established, ping/pong and the activity timeout."""

from __future__ import annotations

import re

import pytest

from golive.fixtures.clients import PusherFactory
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.protocol import Close
from tests.pusher.client import (
    PUSHER_JS_QUERY,
    PYSHER_QUERY,
    app_path,
    open_raw,
    open_socket,
    read_until_closed,
    string_data,
)
from tests.pusher.conftest import SocketFactory

SOCKET_ID = re.compile(r"^\d+\.\d+$")


@pytest.mark.parametrize(
    "query",
    [PUSHER_JS_QUERY, PYSHER_QUERY, "protocol=5", None],
    ids=["pusher-js-protocol-7", "pysher-protocol-6", "protocol-5", "no-protocol"],
)
async def test_connection_established(connect: SocketFactory, query: str | None) -> None:
    socket = await connect(query=query)
    assert set(socket.established) == {"event", "data"}
    assert isinstance(socket.established["data"], str)  # double-encoded, as Pysher requires
    assert string_data(socket.established) == {"socket_id": socket.socket_id, "activity_timeout": 120}
    assert SOCKET_ID.match(socket.socket_id)
    assert await socket.ping() == {"event": "pusher:pong", "data": {}}


async def test_socket_ids_are_unique(connect: SocketFactory) -> None:
    sockets = [await connect() for _ in range(5)]
    assert len({socket.socket_id for socket in sockets}) == 5


async def refused(credentials: PusherCredentials, path: str, code: int) -> str:
    """The handshake is accepted, then pusher:error with `code`, then the close with `code`."""
    async with open_raw(credentials, path) as ws:
        closed = await read_until_closed(ws)
    assert closed.code == code, closed
    assert len(closed.messages) == 1, closed
    (error,) = closed.messages
    assert error["event"] == "pusher:error"
    assert error["data"]["code"] == code
    message: str = error["data"]["message"]
    return message


async def test_unknown_key_is_refused_with_4001(credentials: PusherCredentials) -> None:
    message = await refused(credentials, f"/app/not-{credentials.key}?{PUSHER_JS_QUERY}", 4001)
    assert f"not-{credentials.key}" in message


@pytest.mark.parametrize("protocol", ["4", "8", "1"])
async def test_unsupported_protocol_is_refused_with_4007(
    credentials: PusherCredentials, protocol: str
) -> None:
    await refused(credentials, app_path(credentials, f"protocol={protocol}&client=js"), 4007)


@pytest.mark.parametrize("protocol", ["seven", "7.0", "-7", ""])
async def test_invalid_protocol_is_refused_with_4006(credentials: PusherCredentials, protocol: str) -> None:
    await refused(credentials, app_path(credentials, f"protocol={protocol}"), 4006)


@pytest.mark.parametrize("path", ["/", "/apps/key", "/app", "/socket/app/key"])
async def test_wrong_path_is_refused_with_4005(credentials: PusherCredentials, path: str) -> None:
    await refused(credentials, path, 4005)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/app/" + "k" * 300, Close.APP_NOT_FOUND),
        ("/app/{key}?protocol=" + "9" * 300, Close.UNSUPPORTED_PROTOCOL),
        ("/app/{key}?protocol=" + "x" * 300, Close.INVALID_VERSION),
        ("/app/" + "é" * 100, Close.APP_NOT_FOUND),
    ],
    ids=["long-key", "long-protocol-number", "long-protocol-string", "long-non-ascii-key"],
)
async def test_refusals_survive_long_values(credentials: PusherCredentials, path: str, code: int) -> None:
    """A close reason must fit a control frame (123 bytes): long values from the URL must not turn
    the refusal into a server error and an abnormal closure."""
    await refused(credentials, path.replace("{key}", credentials.key), code)
    async with open_socket(credentials) as socket:  # and the emulator still serves
        await socket.ping()


@pytest.mark.parametrize("data", [{}, "", None], ids=["object", "empty-string", "no-data"])
async def test_ping_gets_pong(connect: SocketFactory, data: object) -> None:
    socket = await connect()
    if data is None:
        await socket.send_raw('{"event":"pusher:ping"}')
        pong = await socket.expect("pusher:pong")
    else:
        pong = await socket.ping(data)
    assert pong == {"event": "pusher:pong", "data": {}}


async def test_silent_client_is_pinged_then_closed_with_4201(golive_start_pusher: PusherFactory) -> None:
    service = golive_start_pusher("--activity-timeout", "1", "--pong-timeout", "0.5")
    async with open_socket(service.credentials) as socket:
        assert socket.activity_timeout == 1
        ping = await socket.expect("pusher:ping", deadline=5)
        assert ping == {"event": "pusher:ping", "data": {}}
        closed = await socket.closed(deadline=5)
    assert closed.code == Close.PONG_NOT_RECEIVED, closed
    assert closed.messages == []


async def test_client_answering_the_ping_stays_connected(golive_start_pusher: PusherFactory) -> None:
    service = golive_start_pusher("--activity-timeout", "1", "--pong-timeout", "0.5")
    async with open_socket(service.credentials) as socket:
        await socket.expect("pusher:ping", deadline=5)
        await socket.send("pusher:pong", {})
        # Had the pong not counted, the close (0.5 s after the ping) would have come before this
        # second ping (1 s of silence after the pong).
        await socket.expect("pusher:ping", deadline=5)
        await socket.ping()  # any message counts as activity: the client's own ping answers too
        await socket.expect("pusher:ping", deadline=5)
        await socket.ping()  # still connected, still served
