"""Client events (`client-*`): to the other subscribers of a private or presence channel, never
echoed, with the sender's user_id on presence; refused with pusher:error 4301 everywhere else, over
the rate limit, and when the app has them off."""

from __future__ import annotations

import asyncio
import json

import pusher
import pytest

from golive.fixtures.clients import PusherFactory, sdk_for
from golive.fixtures.pusher.protocol import Close
from tests.pusher.client import PusherSocket, expect_marker
from tests.pusher.conftest import SocketFactory


async def test_private_client_event_reaches_others_only(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    sender, other, third = await connect(), await connect(), await connect()
    channel = f"private-{uid}"
    for socket in (sender, other, third):
        await socket.subscribe_private(sdk, channel)
    await sender.send("client-typing", {"who": "sender", "n": 1}, channel)
    expected = {"event": "client-typing", "channel": channel, "data": {"who": "sender", "n": 1}}
    assert await other.recv() == expected  # no user_id off presence channels
    assert await third.recv() == expected
    # Not echoed: the sender's next message is the answer to its ping.
    await sender.ping()


async def test_client_event_string_data_passes_verbatim(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    sender, other = await connect(), await connect()
    channel = f"private-{uid}"
    for socket in (sender, other):
        await socket.subscribe_private(sdk, channel)
    await sender.send("client-note", '{"raw": "as sent"}', channel)
    assert (await other.expect("client-note", channel))["data"] == '{"raw": "as sent"}'
    await sender.send("client-note", "not json at all", channel)
    assert (await other.expect("client-note", channel))["data"] == "not json at all"


async def test_presence_client_event_carries_the_senders_user_id(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    sender, other = await connect(), await connect()
    channel = f"presence-{uid}"
    await other.subscribe_presence(sdk, channel, f"other-{uid}")
    await sender.subscribe_presence(sdk, channel, f"sender-{uid}")
    await other.expect("pusher_internal:member_added", channel)
    await sender.send("client-wave", {"hi": True}, channel)
    assert await other.recv() == {
        "event": "client-wave",
        "channel": channel,
        "data": {"hi": True},
        "user_id": f"sender-{uid}",
    }
    await sender.ping()


async def assert_refused(
    sender: PusherSocket, receivers: list[PusherSocket], sdk: pusher.Pusher, marker_channel: str, frame: str
) -> str:
    """The sender gets pusher:error 4301, and no receiver sees anything before a later marker."""
    await sender.send_raw(frame)
    error = await sender.expect_error(Close.CLIENT_EVENT_REJECTED)
    await expect_marker(sdk, marker_channel, *receivers)
    message: str = error["data"]["message"]
    return message


@pytest.mark.parametrize("where", ["public", "private-encrypted", "not-subscribed", "no-channel"])
async def test_client_event_refused(
    connect: SocketFactory, sdk: pusher.Pusher, encrypting_sdk: pusher.Pusher, uid: str, where: str
) -> None:
    sender, receiver = await connect(), await connect()
    marker = f"marker-{uid}"
    await receiver.subscribe(marker)
    if where == "public":
        channel = f"public-{uid}"
        for socket in (sender, receiver):
            await socket.subscribe(channel)
    elif where == "private-encrypted":
        channel = f"private-encrypted-{uid}"
        for socket in (sender, receiver):
            await socket.subscribe(channel, encrypting_sdk.authenticate(channel, socket.socket_id)["auth"])
    else:
        channel = f"private-{uid}"
        await receiver.subscribe_private(sdk, channel)  # the sender is not on it
    message: dict[str, object] = {"event": "client-sneak", "data": {"x": 1}}
    if where != "no-channel":
        message["channel"] = channel
    reason = await assert_refused(sender, [receiver], sdk, marker, json.dumps(message))
    assert "rejected" in reason.lower() or "not" in reason.lower()
    await sender.ping()  # refused, not disconnected


async def test_client_events_over_ten_per_second_are_refused(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    sender, receiver = await connect(), await connect()
    channel = f"private-{uid}"
    for socket in (sender, receiver):
        await socket.subscribe_private(sdk, channel)
    burst = 30
    frames = [json.dumps({"event": "client-burst", "channel": channel, "data": str(n)}) for n in range(burst)]
    await asyncio.gather(*(sender.send_raw(frame) for frame in frames))
    await sender.send("pusher:ping", {})
    refusals = 0
    while (message := await sender.recv())["event"] != "pusher:pong":
        assert message["event"] == "pusher:error", message
        assert message["data"]["code"] == Close.CLIENT_EVENT_REJECTED
        assert "rate limit" in message["data"]["message"]
        refusals += 1
    accepted = burst - refusals
    # Ten at once are allowed (the bucket starts full); the rest of a burst sent in a few
    # milliseconds is refused (a slow machine may earn back a token or two meanwhile).
    assert 10 <= accepted <= 15, accepted
    delivered = [(await receiver.expect("client-burst", channel))["data"] for _ in range(accepted)]
    assert delivered == [str(n) for n in range(accepted)]  # the first ones, in order
    await expect_marker(sdk, channel, receiver)


async def test_client_events_disabled(
    golive_start_pusher: PusherFactory, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--no-client-events")
    own_sdk = sdk_for(service.credentials)
    sender, receiver = await connect(service.credentials), await connect(service.credentials)
    channel = f"private-{uid}"
    for socket in (sender, receiver):
        await socket.subscribe_private(own_sdk, channel)
    await receiver.subscribe(f"marker-{uid}")
    frame = json.dumps({"event": "client-hello", "channel": channel, "data": {}})
    reason = await assert_refused(sender, [receiver], own_sdk, f"marker-{uid}", frame)
    assert "client messaging" in reason
    await sender.ping()
