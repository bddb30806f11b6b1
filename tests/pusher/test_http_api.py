"""The HTTP API: request signatures, events, batch_events, and the channel/user queries. Happy paths
go through the official SDK; what it refuses to send is signed by hand (tests/pusher/rest.py)."""

from __future__ import annotations

import time

import pusher
import pusher.errors
import pytest

from golive.core import http_clients
from golive.fixtures.clients import PusherFactory
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.api import sign_request
from tests.pusher.client import expect_marker
from tests.pusher.conftest import SocketFactory
from tests.pusher.rest import SignedApi, json_error

# --- signatures --------------------------------------------------------------------------------


def test_numeric_app_id_works_with_the_sdk(
    credentials: PusherCredentials, sdk: pusher.Pusher, uid: str
) -> None:
    assert credentials.app_id.isdigit()  # the Python SDK rejects anything else
    assert sdk.channels_info(prefix_filter=f"nothing-{uid}") == {"channels": {}}


@pytest.mark.parametrize("missing", ["auth_key", "auth_timestamp", "auth_version", "auth_signature"])
def test_unsigned_parts_are_401(api: SignedApi, missing: str) -> None:
    path = f"{api.prefix}/channels"
    params = {name: value for name, value in _signed(api, "GET", path).items() if name != missing}
    json_error(api.http.get(path, params=params), 401)


def test_no_signature_at_all_is_401(api: SignedApi) -> None:
    json_error(api.http.get(f"{api.prefix}/channels"), 401)


def test_wrong_key_is_401(api: SignedApi) -> None:
    response = api.get(f"{api.prefix}/channels", key="wrong-key")
    assert "wrong-key" in json_error(response, 401)


def test_wrong_secret_is_401_and_names_the_string_to_sign(api: SignedApi) -> None:
    response = api.get(f"{api.prefix}/channels", secret="not-the-secret")
    message = json_error(response, 401)
    assert f"GET\\n{api.prefix}/channels\\nauth_key=" in message


def test_tampered_signature_is_401(api: SignedApi) -> None:
    path = f"{api.prefix}/channels"
    params = _signed(api, "GET", path)
    params["auth_signature"] = params["auth_signature"][::-1]
    json_error(api.http.get(path, params=params), 401)


def test_tampered_query_is_401(api: SignedApi) -> None:
    path = f"{api.prefix}/channels"
    params = _signed(api, "GET", path, {"filter_by_prefix": "presence-"})
    params["filter_by_prefix"] = "private-"
    json_error(api.http.get(path, params=params), 401)


async def test_tampered_body_is_401_and_not_delivered(
    connect: SocketFactory, sdk: pusher.Pusher, api: SignedApi, uid: str
) -> None:
    socket = await connect()
    channel = f"public-{uid}"
    await socket.subscribe(channel)
    signed = b'{"name":"e","channel":"%s","data":"signed"}' % channel.encode()
    sent = b'{"name":"e","channel":"%s","data":"forged"}' % channel.encode()
    response = api.request("POST", f"{api.prefix}/events", sent, signed_body=signed)
    assert "body_md5" in json_error(response, 401)
    await expect_marker(sdk, channel, socket)


def test_body_without_body_md5_is_401(api: SignedApi, uid: str) -> None:
    body = b'{"name":"e","channel":"public-%s","data":"x"}' % uid.encode()
    path = f"{api.prefix}/events"
    params = _signed(api, "POST", path, body=body)
    del params["body_md5"]
    json_error(api.http.post(path, params=params, content=body), 401)


@pytest.mark.parametrize("skew", [-601, 601, -100_000])
def test_stale_timestamp_is_401(api: SignedApi, skew: int) -> None:
    response = api.get(f"{api.prefix}/channels", timestamp=int(time.time()) + skew)
    assert "Timestamp" in json_error(response, 401)


def test_timestamp_within_the_window_is_accepted(api: SignedApi) -> None:
    response = api.get(f"{api.prefix}/channels", timestamp=int(time.time()) - 500)
    assert response.status_code == 200, response.text


def test_timestamp_window_zero_accepts_any_timestamp(golive_start_pusher: PusherFactory) -> None:
    service = golive_start_pusher("--timestamp-window", "0")
    api = SignedApi(service.credentials)
    try:
        response = api.get(f"{api.prefix}/channels", timestamp=1_000_000_000)  # 2001
        assert response.status_code == 200, response.text
        assert response.json() == {"channels": {}}
        json_error(api.get(f"{api.prefix}/channels", timestamp=1_000_000_000, secret="bad"), 401)
    finally:
        api.close()


def test_unknown_app_id_is_404(api: SignedApi) -> None:
    other = str(int(api.credentials.app_id) + 1)
    assert other in json_error(api.get(f"/apps/{other}/channels"), 404)


@pytest.mark.parametrize("path", ["/apps/123/nothing", "/nothing", "/apps"])
def test_unknown_route_is_404_json(api: SignedApi, path: str) -> None:
    json_error(api.http.get(path), 404)


def test_sdk_surfaces_bad_auth(credentials: PusherCredentials) -> None:
    wrong = pusher.Pusher(
        app_id=credentials.app_id,
        key=credentials.key,
        secret="wrong",
        host=credentials.host,
        port=credentials.port,
        ssl=False,
    )
    with pytest.raises(pusher.errors.PusherBadAuth):
        wrong.channels_info()


def _signed(
    api: SignedApi, method: str, path: str, query: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, str]:
    return sign_request(api.credentials.key, api.credentials.secret, method, path, body, query)


# --- events ------------------------------------------------------------------------------------


async def test_trigger_to_several_channels_with_the_sdk(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    first, second = await connect(), await connect()
    channels = [f"one-{uid}", f"two-{uid}"]
    await first.subscribe(channels[0])
    await second.subscribe(channels[1])
    assert sdk.trigger(channels, "update", {"v": 1}) == {}
    assert await first.recv() == {"event": "update", "channel": channels[0], "data": '{"v": 1}'}
    assert await second.recv() == {"event": "update", "channel": channels[1], "data": '{"v": 1}'}


async def test_trigger_with_the_single_channel_form(connect: SocketFactory, api: SignedApi, uid: str) -> None:
    socket = await connect()
    channel = f"single-{uid}"
    await socket.subscribe(channel)
    response = api.events({"name": "solo", "channel": channel, "data": "x"})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert await socket.recv() == {"event": "solo", "channel": channel, "data": "x"}


@pytest.mark.parametrize(
    "data",
    ["a plain string, not JSON", '{"spaced": [1, 2],   "kept":"as is"}', "", "ünïcødé ✓", '"quoted"'],
    ids=["plain", "odd-json", "empty", "unicode", "json-string"],
)
async def test_data_is_delivered_verbatim(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str, data: str
) -> None:
    socket = await connect()
    channel = f"verbatim-{uid}"
    await socket.subscribe(channel)
    sdk.trigger(channel, "raw", data)
    message = await socket.recv()
    assert message == {"event": "raw", "channel": channel, "data": data}


async def test_socket_id_is_excluded(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    origin, other = await connect(), await connect()
    channel, marker = f"shared-{uid}", f"marker-{uid}"
    for socket in (origin, other):
        await socket.subscribe(channel)
    await origin.subscribe(marker)
    sdk.trigger(channel, "echo", "not for the origin", socket_id=origin.socket_id)
    assert (await other.expect("echo", channel))["data"] == "not for the origin"
    await expect_marker(sdk, marker, origin)


def test_data_up_to_10_kb_is_accepted_and_beyond_is_413(api: SignedApi, uid: str) -> None:
    channel = f"big-{uid}"
    assert api.events({"name": "big", "channel": channel, "data": "x" * 10240}).status_code == 200
    json_error(api.events({"name": "big", "channel": channel, "data": "x" * 10241}), 413)
    # The limit is in bytes, not characters.
    json_error(api.events({"name": "big", "channel": channel, "data": "é" * 5121}), 413)


def test_sdk_sees_413_as_a_bad_status(sdk: pusher.Pusher, uid: str) -> None:
    with pytest.raises(pusher.errors.PusherBadStatus, match="413"):
        sdk.trigger(f"big-{uid}", "big", "x" * 20_000)


def test_100_channels_accepted_101_refused(api: SignedApi, uid: str) -> None:
    channels = [f"many-{uid}-{n}" for n in range(101)]
    assert api.events({"name": "e", "channels": channels[:100], "data": "x"}).status_code == 200
    json_error(api.events({"name": "e", "channels": channels, "data": "x"}), 400)


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "c", "data": "x"},
        {"name": "", "channel": "c", "data": "x"},
        {"name": "e", "channel": "c"},
        {"name": "e", "data": "x"},
        {"name": "e", "channels": [], "data": "x"},
        {"name": "e", "channels": "c", "data": "x"},
        {"name": "e", "channel": "c", "data": {"not": "a string"}},
        {"name": "e", "channel": "c", "data": 5},
        {"name": "e", "channel": "c", "data": None},
        {"name": "e", "channel": "bad name!", "data": "x"},
        {"name": "e", "channel": "c" * 201, "data": "x"},
        {"name": "e", "channels": ["ok", "#nope"], "data": "x"},
        {"name": "e", "channels": ["ok", 7], "data": "x"},
        {"name": "e" * 201, "channel": "c", "data": "x"},
        {"name": "e", "channel": "c", "data": "x", "socket_id": "not-a-socket"},
        {"name": "e", "channel": "c", "data": "x", "info": "bogus"},
        {"name": "e", "channels": ["c", "private-encrypted-c"], "data": "x"},
        ["not", "an", "object"],
    ],
    ids=[
        "no-name",
        "empty-name",
        "no-data",
        "no-channel",
        "empty-channels",
        "channels-not-a-list",
        "object-data",
        "number-data",
        "null-data",
        "bad-channel-chars",
        "channel-too-long",
        "bad-channel-in-list",
        "non-string-channel",
        "event-name-too-long",
        "bad-socket-id",
        "unknown-info",
        "several-channels-with-an-encrypted-one",
        "not-an-object",
    ],
)
def test_bad_events_are_400(api: SignedApi, payload: object) -> None:
    json_error(api.events(payload), 400)


def test_body_that_is_not_json_is_400(api: SignedApi) -> None:
    json_error(api.request("POST", f"{api.prefix}/events", b"{not json"), 400)


def test_single_encrypted_channel_is_accepted(api: SignedApi, uid: str) -> None:
    response = api.events({"name": "e", "channel": f"private-encrypted-{uid}", "data": '{"nonce":""}'})
    assert response.status_code == 200, response.text


async def test_trigger_info_reports_counts(
    connect: SocketFactory, sdk: pusher.Pusher, api: SignedApi, uid: str
) -> None:
    presence, public, empty = f"presence-{uid}", f"public-{uid}", f"empty-{uid}"
    sockets = [await connect(), await connect()]
    await sockets[0].subscribe_presence(sdk, presence, "u1")
    await sockets[1].subscribe_presence(sdk, presence, "u1")
    await sockets[0].subscribe(public)
    response = api.events(
        {
            "name": "e",
            "channels": [presence, public, empty],
            "data": "x",
            "info": "subscription_count,user_count",
        }
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "channels": {
            presence: {"subscription_count": 2, "user_count": 1},
            public: {"subscription_count": 1},  # user_count only on presence channels
            empty: {"subscription_count": 0},
        }
    }


# --- batch_events ------------------------------------------------------------------------------


async def test_batch_of_ten_is_delivered_in_order(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket = await connect()
    channels = [f"batch-a-{uid}", f"batch-b-{uid}"]
    for channel in channels:
        await socket.subscribe(channel)
    batch = [{"channel": channels[n % 2], "name": f"e{n}", "data": {"n": n}} for n in range(10)]
    assert sdk.trigger_batch(batch) == {}
    for n in range(10):
        assert await socket.recv() == {"event": f"e{n}", "channel": channels[n % 2], "data": f'{{"n": {n}}}'}


async def test_batch_of_eleven_is_refused_whole(
    connect: SocketFactory, sdk: pusher.Pusher, api: SignedApi, uid: str
) -> None:
    socket = await connect()
    channel = f"batch-{uid}"
    await socket.subscribe(channel)
    response = api.batch([{"channel": channel, "name": f"e{n}", "data": "x"} for n in range(11)])
    assert "10" in json_error(response, 400)
    with pytest.raises(pusher.errors.PusherBadRequest):
        sdk.trigger_batch([{"channel": channel, "name": f"e{n}", "data": "x"} for n in range(11)])
    await expect_marker(sdk, channel, socket)  # not one of the 22 was delivered


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "e", "data": "x"},
        {"channel": "{channel}", "name": "e", "data": {"object": True}},
        {"channel": "{channel}", "name": "e", "data": "x" * 10241},
        {"channel": "bad channel", "name": "e", "data": "x"},
        "not an object",
    ],
    ids=["no-channel", "object-data", "too-large", "bad-channel", "not-an-object"],
)
async def test_batch_with_one_bad_event_delivers_nothing(
    connect: SocketFactory, sdk: pusher.Pusher, api: SignedApi, uid: str, bad: object
) -> None:
    socket = await connect()
    channel = f"batch-{uid}"
    await socket.subscribe(channel)
    if isinstance(bad, dict) and bad.get("channel") == "{channel}":
        bad = {**bad, "channel": channel}
    good = [{"channel": channel, "name": f"e{n}", "data": "x"} for n in range(4)]
    response = api.batch([*good[:2], bad, *good[2:]])
    assert response.status_code in (400, 413), response.text
    json_error(response, response.status_code)
    await expect_marker(sdk, channel, socket)


def test_batch_must_be_a_list(api: SignedApi) -> None:
    json_error(api.post(f"{api.prefix}/batch_events", {"batch": {"channel": "c"}}), 400)
    json_error(api.post(f"{api.prefix}/batch_events", {}), 400)


def test_batch_info_is_index_aligned(api: SignedApi, uid: str) -> None:
    batch = [
        {"channel": f"p-{uid}", "name": "e", "data": "x", "info": "subscription_count"},
        {"channel": f"q-{uid}", "name": "e", "data": "x"},
    ]
    response = api.batch(batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"batch": [{"subscription_count": 0}, {}]}


# --- channels, channel, users ------------------------------------------------------------------


async def test_channels_lists_occupied_channels_by_prefix(
    connect: SocketFactory, sdk: pusher.Pusher, uid: str
) -> None:
    socket, other = await connect(), await connect()
    await socket.subscribe_presence(sdk, f"presence-{uid}-room", "u1")
    await other.subscribe_presence(sdk, f"presence-{uid}-room", "u2")
    await socket.expect("pusher_internal:member_added", f"presence-{uid}-room")
    await socket.subscribe(f"{uid}-public")
    await socket.subscribe_private(sdk, f"private-{uid}")
    assert sdk.channels_info(prefix_filter=f"presence-{uid}", attributes=["user_count"]) == {
        "channels": {f"presence-{uid}-room": {"user_count": 2}}
    }
    assert sdk.channels_info(
        prefix_filter=f"presence-{uid}", attributes=["user_count", "subscription_count"]
    ) == {"channels": {f"presence-{uid}-room": {"user_count": 2, "subscription_count": 2}}}
    assert sdk.channels_info(prefix_filter=f"{uid}-") == {"channels": {f"{uid}-public": {}}}
    assert sdk.channels_info(prefix_filter=f"private-{uid}") == {"channels": {f"private-{uid}": {}}}
    listed = sdk.channels_info()["channels"]
    assert {f"presence-{uid}-room", f"{uid}-public", f"private-{uid}"} <= set(listed)


def test_channels_user_count_needs_a_presence_prefix(sdk: pusher.Pusher, uid: str) -> None:
    for prefix in (None, f"private-{uid}", "pres"):
        with pytest.raises(pusher.errors.PusherBadRequest, match="presence"):
            sdk.channels_info(prefix_filter=prefix, attributes=["user_count"])


def test_channels_unknown_info_is_400(api: SignedApi) -> None:
    json_error(api.get(f"{api.prefix}/channels", {"info": "everything"}), 400)


async def test_channel_occupied_and_counts(connect: SocketFactory, sdk: pusher.Pusher, uid: str) -> None:
    channel, presence = f"chan-{uid}", f"presence-{uid}"
    assert sdk.channel_info(channel) == {"occupied": False}
    assert sdk.channel_info(channel, ["subscription_count"]) == {"occupied": False, "subscription_count": 0}
    sockets = [await connect(), await connect()]
    for socket in sockets:
        await socket.subscribe(channel)
    assert sdk.channel_info(channel) == {"occupied": True}
    assert sdk.channel_info(channel, ["subscription_count"]) == {"occupied": True, "subscription_count": 2}
    with pytest.raises(pusher.errors.PusherBadRequest):
        sdk.channel_info(channel, ["user_count"])
    for socket in sockets:
        await socket.subscribe_presence(sdk, presence, "same-user")
    assert sdk.channel_info(presence, ["user_count", "subscription_count"]) == {
        "occupied": True,
        "user_count": 1,
        "subscription_count": 2,
    }
    for socket in sockets:
        await socket.unsubscribe(channel)
        await socket.ping()
    assert sdk.channel_info(channel) == {"occupied": False}


def test_users_on_a_non_presence_channel_is_400(sdk: pusher.Pusher, uid: str) -> None:
    for channel in (f"public-{uid}", f"private-{uid}"):
        with pytest.raises(pusher.errors.PusherBadRequest):
            sdk.users_info(channel)


def test_users_of_an_empty_presence_channel(sdk: pusher.Pusher, uid: str) -> None:
    assert sdk.users_info(f"presence-{uid}") == {"users": []}


def test_bad_channel_name_in_the_path_is_400(api: SignedApi) -> None:
    json_error(api.get(f"{api.prefix}/channels/{'c' * 201}"), 400)


def test_root_and_stats_answer_unsigned(credentials: PusherCredentials) -> None:
    base = f"http://{credentials.host}:{credentials.port}"
    root = http_clients.get(f"{base}/", timeout=5)
    assert root.status_code == 200
    assert root.json()["app_id"] == credentials.app_id
    stats = http_clients.get(f"{base}/golive/stats", timeout=5).json()
    assert {"connections", "channels", "hub", "webhooks"} <= set(stats)
    assert credentials.secret not in root.text + str(stats)
