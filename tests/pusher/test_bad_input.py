"""Whatever a client sends, the emulator answers with an error and keeps serving the connection."""

from __future__ import annotations

import pusher
import pytest

from golive.fixtures.pusher.protocol import Close
from golive.fixtures.pusher.service import PusherControl
from tests.pusher.client import expect_marker
from tests.pusher.conftest import SocketFactory

ERROR_FRAMES = {
    "not-json": "hello there",
    "truncated-json": '{"event": "pusher:ping"',
    "json-array": '["pusher:ping", {}]',
    "json-string": '"pusher:ping"',
    "json-number": "42",
    "json-null": "null",
    "missing-event": '{"data": {}}',
    "empty-event": '{"event": "", "data": {}}',
    "non-string-event": '{"event": 7, "data": {}}',
    "non-string-channel": '{"event": "client-x", "channel": ["a"], "data": {}}',
    "unknown-pusher-event": '{"event": "pusher:teleport", "data": {}}',
    "unknown-internal-event": '{"event": "pusher_internal:member_added", "data": {}}',
    "unknown-plain-event": '{"event": "hello", "data": {}}',
    "subscribe-without-data": '{"event": "pusher:subscribe"}',
    "subscribe-without-channel": '{"event": "pusher:subscribe", "data": {"auth": ""}}',
    "subscribe-empty-channel": '{"event": "pusher:subscribe", "data": {"channel": ""}}',
    "subscribe-non-string-channel": '{"event": "pusher:subscribe", "data": {"channel": 12}}',
    "subscribe-data-not-an-object": '{"event": "pusher:subscribe", "data": "not json"}',
    "subscribe-data-a-list": '{"event": "pusher:subscribe", "data": ["c"]}',
}


@pytest.mark.parametrize("frame", list(ERROR_FRAMES.values()), ids=list(ERROR_FRAMES))
async def test_bad_frame_gets_pusher_error(connect: SocketFactory, frame: str) -> None:
    socket = await connect()
    await socket.send_raw(frame)
    await socket.expect_error()
    assert await socket.ping() == {"event": "pusher:pong", "data": {}}


async def test_binary_frame_gets_pusher_error(connect: SocketFactory) -> None:
    socket = await connect()
    await socket.send_raw(b'{"event": "pusher:ping", "data": {}}')
    await socket.expect_error()
    await socket.send_raw(b"\x00\xff\xfe")
    await socket.expect_error()
    await socket.ping()


@pytest.mark.parametrize(
    "channel",
    [
        "c" * 201,
        "private-" + "c" * 193,
        "bad name",
        "bad/name",
        "naïve",
        "tab\tname",
        "#not-a-user-channel",
        "a#b",
    ],
    ids=["too-long", "private-too-long", "space", "slash", "non-ascii", "tab", "hash-prefix", "inner-hash"],
)
async def test_invalid_channel_name_gets_subscription_error(connect: SocketFactory, channel: str) -> None:
    socket = await connect()
    await socket.request_subscribe(channel, "")
    error = await socket.expect("pusher:subscription_error", channel)
    assert isinstance(error["data"], dict)
    assert isinstance(error["data"]["error"], str)
    assert error["data"]["error"]
    await socket.ping()


async def test_longest_allowed_channel_name(connect: SocketFactory, uid: str) -> None:
    socket = await connect()
    channel = f"{uid}-" + "c" * (200 - len(uid) - 1)
    assert len(channel) == 200
    await socket.subscribe(channel)


async def test_unsubscribe_without_a_channel_is_harmless(connect: SocketFactory) -> None:
    socket = await connect()
    for frame in (
        '{"event": "pusher:unsubscribe"}',
        '{"event": "pusher:unsubscribe", "data": {"channel": 5}}',
    ):
        await socket.send_raw(frame)
    await socket.ping()


@pytest.mark.parametrize(
    ("event", "data"),
    [("client-big", "x" * 10241), ("client-" + "x" * 200, "small")],
    ids=["data-over-10-kb", "name-over-200"],
)
async def test_oversized_client_event_is_refused(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str, event: str, data: str
) -> None:
    sender, receiver = await connect(), await connect()
    channel = f"private-{uid}"
    for socket in (sender, receiver):
        await socket.subscribe_private(sdk, channel)
    await sender.send(event, data, channel)
    await sender.expect_error(Close.CLIENT_EVENT_REJECTED)
    await expect_marker(sdk, channel, receiver)
    await sender.expect("golive-marker", channel)
    await sender.ping()


async def test_a_storm_of_bad_frames_leaves_the_emulator_healthy(
    connect: SocketFactory, control: PusherControl
) -> None:
    socket = await connect()
    frames = list(ERROR_FRAMES.values()) * 5
    for frame in frames:
        await socket.send_raw(frame)
    for _ in frames:
        await socket.expect_error()
    await socket.ping()
    stats = control.stats()
    assert stats["connections"] >= 1
    other = await connect()
    await other.ping()
