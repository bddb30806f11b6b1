"""Subscribing: public channels, private ones (signature checked), private-encrypted ones (authorized
like private, payloads forwarded untouched), unsubscribing."""

from __future__ import annotations

import base64
import json

import nacl.secret
import pusher
import pytest

from tests.pusher.client import expect_marker, string_data
from tests.pusher.conftest import SocketFactory
from tests.pusher.rest import SignedApi

# --- public ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["", None], ids=["empty-auth", "no-auth"])
async def test_public_subscribe(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str, auth: str | None
) -> None:
    socket = await connect()
    channel = f"public-{uid}"
    await socket.request_subscribe(channel, auth)
    succeeded = await socket.expect("pusher_internal:subscription_succeeded", channel)
    assert set(succeeded) == {"event", "channel", "data"}
    assert string_data(succeeded) == {}
    sdk.trigger(channel, "greeting", {"hello": "world"})
    assert await socket.recv() == {"event": "greeting", "channel": channel, "data": '{"hello": "world"}'}


async def test_subscribe_data_as_a_json_string(connect: SocketFactory, uid: str) -> None:
    """Older clients send `data` as a JSON string rather than an object: both are accepted."""
    socket = await connect()
    channel = f"public-{uid}"
    await socket.send("pusher:subscribe", json.dumps({"channel": channel, "auth": ""}))
    await socket.expect("pusher_internal:subscription_succeeded", channel)


async def test_resubscribing_is_idempotent(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    socket = await connect()
    channel = f"public-{uid}"
    await socket.subscribe(channel)
    await socket.subscribe(channel)  # succeeds again...
    assert sdk.channel_info(channel, ["subscription_count"]) == {"occupied": True, "subscription_count": 1}
    sdk.trigger(channel, "once", "1")
    assert (await socket.recv())["data"] == "1"  # ...and the event arrives once:
    await expect_marker(sdk, channel, socket)


async def test_unsubscribed_socket_gets_no_more_events(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    leaver, stayer = await connect(), await connect()
    channel, other = f"public-{uid}", f"other-{uid}"
    for socket in (leaver, stayer):
        await socket.subscribe(channel)
    await leaver.subscribe(other)
    sdk.trigger(channel, "before", "1")
    for socket in (leaver, stayer):
        assert (await socket.expect("before", channel))["data"] == "1"
    await leaver.unsubscribe(channel)
    await leaver.ping()  # the unsubscribe is handled (no reply of its own comes)
    sdk.trigger(channel, "after", "2")
    assert (await stayer.expect("after", channel))["data"] == "2"
    await expect_marker(sdk, other, leaver)  # "after" never reached the leaver


async def test_unsubscribing_from_an_unknown_channel_is_harmless(connect: SocketFactory, uid: str) -> None:
    socket = await connect()
    await socket.unsubscribe(f"never-subscribed-{uid}")
    assert await socket.ping() == {"event": "pusher:pong", "data": {}}


# --- private -----------------------------------------------------------------------------------


async def test_private_subscribe_with_a_good_signature(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channel = f"private-{uid}"
    assert await socket.subscribe_private(sdk, channel) == {}
    sdk.trigger(channel, "secret", "s")
    assert await socket.recv() == {"event": "secret", "channel": channel, "data": "s"}


def bad_auths(sdk: pusher.Pusher, socket_id: str, channel: str) -> dict[str, str | None]:
    good = sdk.authenticate(channel, socket_id)["auth"]
    key, signature = good.split(":")
    other_socket = "1.1" if socket_id != "1.1" else "2.2"
    return {
        "bad-signature": f"{key}:{'0' * len(signature)}",
        "signature-of-another-socket": sdk.authenticate(channel, other_socket)["auth"],
        "signature-of-another-channel": sdk.authenticate(f"{channel}-x", socket_id)["auth"],
        "wrong-key": f"not-{key}:{signature}",
        "no-key": signature,
        "empty-auth": "",
        "missing-auth": None,
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad-signature",
        "signature-of-another-socket",
        "signature-of-another-channel",
        "wrong-key",
        "no-key",
        "empty-auth",
        "missing-auth",
    ],
)
@pytest.mark.parametrize("prefix", ["private-", "private-encrypted-"])
async def test_private_subscribe_refused(
    connect: SocketFactory,
    sdk: pusher.Pusher,
    encrypting_sdk: pusher.Pusher,
    api: SignedApi,
    uid: str,
    case: str,
    prefix: str,
) -> None:
    socket = await connect()
    channel, public = f"{prefix}{uid}", f"public-{uid}"
    await socket.subscribe(public)
    await socket.request_subscribe(channel, bad_auths(encrypting_sdk, socket.socket_id, channel)[case])
    await socket.expect_subscription_error(channel, "AuthError", 401)
    # Not subscribed: an event on the channel does not arrive before a later one elsewhere.
    assert api.events({"name": "leak", "channel": channel, "data": "x"}).status_code == 200
    await expect_marker(sdk, public, socket)
    assert sdk.channel_info(channel) == {"occupied": False}


async def test_private_refusal_names_the_string_to_sign(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    """Most refusals are a key/secret mismatch: the error says what should have been signed."""
    socket = await connect()
    channel = f"private-{uid}"
    await socket.request_subscribe(channel, bad_auths(sdk, socket.socket_id, channel)["bad-signature"])
    data = await socket.expect_subscription_error(channel, "AuthError", 401)
    assert f"{socket.socket_id}:{channel}" in data["error"]


# --- private-encrypted -------------------------------------------------------------------------


async def test_encrypted_channel_is_authorized_like_private_and_payloads_pass_untouched(
    connect: SocketFactory, encrypting_sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channel = f"private-encrypted-{uid}"
    auth = encrypting_sdk.authenticate(channel, socket.socket_id)
    # The SDK (3.3.4) returns the shared secret as bytes: what an auth endpoint must .decode().
    assert isinstance(auth["shared_secret"], bytes)
    shared_secret = base64.b64decode(auth["shared_secret"].decode())
    assert await socket.subscribe(channel, auth["auth"]) == {}

    encrypting_sdk.trigger(channel, "sealed", {"card": "4242", "note": "é"})
    message = await socket.expect("sealed", channel)
    data = message["data"]
    assert isinstance(data, str)
    envelope = json.loads(data)
    assert set(envelope) == {"nonce", "ciphertext"}
    # Verbatim: still the SDK's own serialisation (json.dumps: ", " and ": " separators)...
    assert data == json.dumps(envelope, ensure_ascii=False)
    # ...and the ciphertext opens with the channel's key to exactly what was sent.
    box = nacl.secret.SecretBox(shared_secret)
    plaintext = box.decrypt(base64.b64decode(envelope["ciphertext"]), base64.b64decode(envelope["nonce"]))
    assert json.loads(plaintext.decode()) == {"card": "4242", "note": "é"}
