"""Presence channels: the signature over channel_data as sent, the member list, member_added and
member_removed once per user (not per socket), and what the HTTP API reports about members."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import pusher

from golive.fixtures.description import PusherCredentials
from tests.pusher.client import expect_marker, open_socket, string_data
from tests.pusher.conftest import SocketFactory


async def test_signature_covers_channel_data_byte_for_byte(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channel = f"presence-{uid}"
    auth = sdk.authenticate(channel, socket.socket_id, {"user_id": "ada", "user_info": {"name": "Ada"}})
    # The SDK serialises with json.dumps' default separators: spaces are part of what it signed.
    assert auth["channel_data"] == '{"user_id": "ada", "user_info": {"name": "Ada"}}'
    compact = json.dumps(json.loads(auth["channel_data"]), separators=(",", ":"))
    await socket.request_subscribe(channel, auth["auth"], compact)  # same member, other bytes
    await socket.expect_subscription_error(channel, "AuthError", 401)
    await socket.request_subscribe(channel, auth["auth"], auth["channel_data"])
    succeeded = await socket.expect("pusher_internal:subscription_succeeded", channel)
    assert isinstance(succeeded["data"], str)
    assert string_data(succeeded) == {
        "presence": {"ids": ["ada"], "hash": {"ada": {"name": "Ada"}}, "count": 1}
    }


async def test_presence_needs_channel_data_or_a_signed_in_connection(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channel = f"presence-{uid}"
    await socket.request_subscribe(channel, sdk.authenticate(channel, socket.socket_id)["auth"])
    await socket.expect_subscription_error(channel, "AuthError", 400)
    assert sdk.channel_info(channel) == {"occupied": False}


async def test_channel_data_without_a_user_id_is_refused(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channel = f"presence-{uid}"
    auth = sdk.authenticate(channel, socket.socket_id, {"user_info": {"name": "nobody"}})
    await socket.request_subscribe(channel, auth["auth"], auth["channel_data"])
    await socket.expect_subscription_error(channel, "AuthError", 400)


async def test_members_are_announced_once_per_user(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    observer, first, second = await connect(), await connect(), await connect()
    channel = f"presence-{uid}"
    watcher, user = f"watcher-{uid}", f"user-{uid}"

    presence = await observer.subscribe_presence(sdk, channel, watcher, {"role": "watcher"})
    assert presence == {"ids": [watcher], "hash": {watcher: {"role": "watcher"}}, "count": 1}

    presence = await first.subscribe_presence(sdk, channel, user, {"name": "U"})
    assert sorted(presence["ids"]) == sorted([watcher, user])
    assert presence["hash"] == {watcher: {"role": "watcher"}, user: {"name": "U"}}
    assert presence["count"] == 2
    added = await observer.expect("pusher_internal:member_added", channel)
    assert string_data(added) == {"user_id": user, "user_info": {"name": "U"}}

    # The same user on a second socket: no new member, and nobody is told of one.
    presence = await second.subscribe_presence(sdk, channel, user, {"name": "U"})
    assert sorted(presence["ids"]) == sorted([watcher, user])
    assert presence["count"] == 2
    await expect_marker(sdk, channel, observer, first, second)

    assert sdk.users_info(channel) in (
        {"users": [{"id": watcher}, {"id": user}]},
        {"users": [{"id": user}, {"id": watcher}]},
    )
    assert sdk.channel_info(channel, ["user_count", "subscription_count"]) == {
        "occupied": True,
        "user_count": 2,
        "subscription_count": 3,
    }

    # One of the user's sockets leaves: the user is still present.
    await first.unsubscribe(channel)
    await first.ping()
    await expect_marker(sdk, channel, observer, second)
    assert sdk.channel_info(channel, ["user_count"]) == {"occupied": True, "user_count": 2}

    # The last one goes away (a disconnect this time): now the user has left.
    await second.ws.close()
    removed = await observer.expect("pusher_internal:member_removed", channel)
    assert string_data(removed) == {"user_id": user}
    assert sdk.users_info(channel) == {"users": [{"id": watcher}]}
    await expect_marker(sdk, channel, observer)


async def test_member_removed_on_unsubscribe(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    observer, leaver = await connect(), await connect()
    channel = f"presence-{uid}"
    await observer.subscribe_presence(sdk, channel, f"watcher-{uid}")
    await leaver.subscribe_presence(sdk, channel, f"leaver-{uid}")
    added = await observer.expect("pusher_internal:member_added", channel)
    assert string_data(added)["user_id"] == f"leaver-{uid}"
    await leaver.unsubscribe(channel)
    removed = await observer.expect("pusher_internal:member_removed", channel)
    assert removed == {
        "event": "pusher_internal:member_removed",
        "channel": channel,
        "data": json.dumps({"user_id": f"leaver-{uid}"}, separators=(",", ":")),
    }
    # The leaver is told nothing: it is no longer on the channel.
    await leaver.ping()


async def test_numeric_user_id_is_a_string_everywhere(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    observer, numeric = await connect(), await connect()
    channel = f"presence-{uid}"
    await observer.subscribe_presence(sdk, channel, f"watcher-{uid}")
    presence = await numeric.subscribe_presence(sdk, channel, 42, {"n": 1})
    assert "42" in presence["ids"]
    assert presence["hash"]["42"] == {"n": 1}
    added = string_data(await observer.expect("pusher_internal:member_added", channel))
    assert added == {"user_id": "42", "user_info": {"n": 1}}
    users = sdk.users_info(channel)["users"]
    assert {"id": "42"} in users
    assert all(isinstance(user["id"], str) for user in users)


async def test_a_full_channel_refuses_a_new_member_but_not_another_socket_of_a_member(
    credentials: PusherCredentials, sdk: pusher.Pusher, uid: str
) -> None:
    channel = f"presence-{uid}"
    async with AsyncExitStack() as members:
        for number in range(100):  # Pusher's limit: 100 members
            # Members never read the member_added (and _removed) of the others: an unbounded
            # receive queue keeps their close handshakes from waiting behind that backlog.
            member = await members.enter_async_context(open_socket(credentials, max_queue=None))
            await member.subscribe_presence(sdk, channel, f"member-{number}")
        newcomer = await members.enter_async_context(open_socket(credentials, max_queue=None))
        auth = sdk.authenticate(channel, newcomer.socket_id, {"user_id": "member-100"})
        await newcomer.request_subscribe(channel, auth["auth"], auth["channel_data"])
        await newcomer.expect_subscription_error(channel, "LimitReached", 4100)
        presence = await newcomer.subscribe_presence(sdk, channel, "member-0")
        assert presence["count"] == 100
