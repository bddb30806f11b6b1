"""User authentication: pusher:signin, the user's own #server-to-user- channel and send_to_user,
and terminate_connections (by the SDK's path and by the documented one)."""

from __future__ import annotations

import json

import pusher
import pytest

from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.protocol import Close, hmac_hex, signin_string_to_sign
from tests.pusher.client import expect_marker, string_data
from tests.pusher.conftest import SocketFactory
from tests.pusher.rest import SignedApi


async def test_signin_then_send_to_user(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    socket = await connect()
    user = f"user-{uid}"
    auth = sdk.authenticate_user(socket.socket_id, {"id": user, "name": "Ada"})
    await socket.send("pusher:signin", auth)
    success = await socket.expect("pusher:signin_success")
    assert string_data(success) == {"user_data": auth["user_data"]}  # the very string signed

    own = f"#server-to-user-{user}"
    assert await socket.subscribe(own) == {}  # pusher-js subscribes so, with an empty auth
    sdk.send_to_user(user, "notice", {"unread": 3})
    assert await socket.recv() == {"event": "notice", "channel": own, "data": '{"unread": 3}'}


async def test_send_to_user_reaches_every_socket_of_the_user(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    user = f"user-{uid}"
    sockets = [await connect(), await connect()]
    for socket in sockets:
        await socket.sign_in(sdk, {"id": user})
        await socket.subscribe(f"#server-to-user-{user}")
    sdk.send_to_user(user, "hello", "both")
    for socket in sockets:
        assert (await socket.expect("hello", f"#server-to-user-{user}"))["data"] == "both"


async def test_another_users_channel_is_refused(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    signed_in, anonymous, victim = await connect(), await connect(), await connect()
    await signed_in.sign_in(sdk, {"id": f"mallory-{uid}"})
    await victim.sign_in(sdk, {"id": f"alice-{uid}"})
    alice = f"#server-to-user-alice-{uid}"
    await victim.subscribe(alice)
    for socket in (signed_in, anonymous):
        await socket.request_subscribe(alice, "")
        await socket.expect_subscription_error(alice, "AuthError", 403)
    sdk.send_to_user(f"alice-{uid}", "private-note", "for alice only")
    assert (await victim.expect("private-note", alice))["data"] == "for alice only"
    # Neither of the others got it: their next message is this pong.
    for socket in (signed_in, anonymous):
        await socket.ping()


@pytest.mark.parametrize("tamper", ["bad-signature", "other-user-data", "other-socket", "no-auth"])
async def test_bad_signin_is_refused_with_4009(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str, tamper: str
) -> None:
    socket = await connect()
    auth = sdk.authenticate_user(socket.socket_id, {"id": f"user-{uid}"})
    if tamper == "bad-signature":
        auth["auth"] = auth["auth"][:-4] + "0000"
    elif tamper == "other-user-data":
        auth["user_data"] = json.dumps({"id": f"admin-{uid}"})
    elif tamper == "other-socket":
        auth = sdk.authenticate_user("1.2", {"id": f"user-{uid}"})
    else:
        del auth["auth"]
    await socket.send("pusher:signin", auth)
    closed = await socket.closed()
    assert closed.code == Close.UNAUTHORIZED, closed
    assert [message["event"] for message in closed.messages] == ["pusher:error"]
    assert closed.messages[0]["data"]["code"] == Close.UNAUTHORIZED


async def test_signin_needs_a_string_id(connect: SocketFactory, credentials: PusherCredentials) -> None:
    """pusher-js ignores a sign-in whose id is not a string: the emulator refuses it outright."""
    socket = await connect()
    user_data = json.dumps({"id": 7})
    # Signed properly over a numeric id (by hand: the SDK insists on a string id).
    signature = hmac_hex(credentials.secret, signin_string_to_sign(socket.socket_id, user_data))
    auth = f"{credentials.key}:{signature}"
    await socket.send("pusher:signin", {"auth": auth, "user_data": user_data})
    closed = await socket.closed()
    assert closed.code == Close.UNAUTHORIZED, closed


async def test_signed_in_user_joins_presence_without_channel_data(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    """pusher-js >= 7.4: a signed-in connection's presence auth may sign `socket_id:channel` only."""
    observer, socket = await connect(), await connect()
    channel, user = f"presence-{uid}", f"user-{uid}"
    await observer.subscribe_presence(sdk, channel, f"watcher-{uid}")
    await socket.sign_in(sdk, {"id": user})
    presence = await socket.subscribe(channel, sdk.authenticate(channel, socket.socket_id)["auth"])
    assert user in presence["presence"]["ids"]
    assert string_data(await observer.expect("pusher_internal:member_added", channel))["user_id"] == user


async def test_terminate_connections_by_the_sdks_path(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    """The SDK (3.3.4) posts to /users/{id}/terminate_connections, without /apps/{app_id}."""
    doomed = [await connect(), await connect()]
    survivor, anonymous = await connect(), await connect()
    for socket in doomed:
        await socket.sign_in(sdk, {"id": f"doomed-{uid}"})
    await survivor.sign_in(sdk, {"id": f"survivor-{uid}"})
    assert sdk.terminate_user_connections(f"doomed-{uid}") == {}
    for socket in doomed:
        closed = await socket.closed()
        assert closed.code == Close.UNAUTHORIZED, closed
    for socket in (survivor, anonymous):
        await socket.ping()


async def test_terminate_connections_by_the_documented_path(
    connect: SocketFactory, sdk: pusher.Pusher, api: SignedApi, uid: str
) -> None:
    doomed, survivor = await connect(), await connect()
    channel = f"public-{uid}"
    await doomed.sign_in(sdk, {"id": f"doomed-{uid}"})
    await survivor.sign_in(sdk, {"id": f"survivor-{uid}"})
    for socket in (doomed, survivor):
        await socket.subscribe(channel)
    response = api.post(f"{api.prefix}/users/doomed-{uid}/terminate_connections", {})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    closed = await doomed.closed()
    assert closed.code == Close.UNAUTHORIZED, closed
    await expect_marker(sdk, channel, survivor)  # still subscribed, still receiving
    assert sdk.channel_info(channel, ["subscription_count"]) == {"occupied": True, "subscription_count": 1}


async def test_terminating_a_user_without_connections_is_fine(sdk: pusher.Pusher, uid: str) -> None:
    assert sdk.terminate_user_connections(f"nobody-{uid}") == {}
