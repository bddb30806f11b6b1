"""The backend's real-time path as a browser sees it: pusher-js, the official client, run under
Node against the stack's Pusher emulator, its private and presence subscriptions and its sign-in
authorized by the backend's /pusher/auth and /pusher/user-auth, the events it receives published
by the backend (content jobs, /pusher/trigger) and by the official Python SDK.

Nothing here sleeps to synchronise: a test waits for what a client prints, with a deadline (and
`room` polls the emulator, with one). Where a test shows that something did *not* arrive, it
sends a marker after it on the same path and waits for the marker: a connection delivers in
order, so what was not there before the marker never comes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pusher
import pytest

from .conftest import Account, bearer
from .driver import ClientFactory, Observation, Predicate, channel_spec

CONTENT_CHANNEL = "content-generation"
ROOM = "presence-golive-room"


def private_channel(account: Account) -> str:
    return f"private-user-{account.id}"


def public_channel() -> str:
    return f"golive-realtime-{uuid.uuid4().hex[:12]}"


def member(account: Account) -> dict[str, Any]:
    """A presence member as pusher-js shows it: the backend signs the id as a string."""
    return {"id": account.pusher_id, "info": {"name": account.username, "role": account.role}}


def event(channel: str, name: str, job_id: str | None = None) -> Predicate:
    def matches(line: Observation) -> bool:
        return (
            line["type"] == "event"
            and line["channel"] == channel
            and line["event"] == name
            and (job_id is None or (isinstance(line["data"], dict) and line["data"].get("job_id") == job_id))
        )

    return matches


def of_job(lines: list[Observation], job_id: str) -> list[tuple[str, Any]]:
    return [
        (line["event"], line["data"])
        for line in lines
        if isinstance(line["data"], dict) and line["data"].get("job_id") == job_id
    ]


def create_job(http: httpx.Client, token: str) -> str:
    response = http.post(
        "/api/v1/content/generate", json={"prompt": "the water cycle, live"}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


# --- content jobs ------------------------------------------------------------------------------


def test_a_content_job_is_followed_live_on_the_public_and_the_owners_channel(
    pusher_js: ClientFactory, golive_http: httpx.Client, golive_user_token: str, user_account: Account
) -> None:
    own = private_channel(user_account)
    client = pusher_js(golive_user_token, [channel_spec(CONTENT_CHANNEL), channel_spec(own)])
    assert sorted(line["channel"] for line in client.of_type("subscribed")) == sorted([CONTENT_CHANNEL, own])

    job_id = create_job(golive_http, golive_user_token)

    for channel in (CONTENT_CHANNEL, own):
        client.wait_for(event(channel, "content_completed", job_id), what=f"content_completed on {channel}")
    progress = [
        ("content_progress", {"job_id": job_id, "progress": 0, "stage": "started", "status": "processing"}),
        (
            "content_progress",
            {"job_id": job_id, "progress": 10, "stage": "generating", "status": "processing"},
        ),
        ("content_progress", {"job_id": job_id, "progress": 90, "stage": "storing", "status": "processing"}),
        (
            "content_progress",
            {"job_id": job_id, "progress": 100, "stage": "completed", "status": "completed"},
        ),
        ("content_completed", {"job_id": job_id, "status": "completed", "error": None}),
    ]
    for channel in (CONTENT_CHANNEL, own):
        assert of_job(client.events(channel), job_id) == progress, f"on {channel}\n{client}"


def test_an_administrator_may_watch_a_users_channel(
    pusher_js: ClientFactory,
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
) -> None:
    theirs = private_channel(user_account)
    watcher = pusher_js(golive_admin_token, [channel_spec(theirs)])
    assert [line["channel"] for line in watcher.of_type("subscribed")] == [theirs]

    job_id = create_job(golive_http, golive_user_token)

    completed = watcher.wait_for(event(theirs, "content_completed", job_id), what="the user's job completing")
    assert completed["data"] == {"job_id": job_id, "status": "completed", "error": None}


# --- authorization -----------------------------------------------------------------------------


def test_another_users_private_channel_is_refused(
    pusher_js: ClientFactory, golive_pusher_sdk: pusher.Pusher, golive_user_token: str, admin_account: Account
) -> None:
    theirs, marker = private_channel(admin_account), public_channel()
    client = pusher_js(golive_user_token, [channel_spec(theirs), channel_spec(marker)])

    [refusal] = client.of_type("subscription_error")
    assert refusal["channel"] == theirs
    assert refusal["error"]["type"] == "AuthError"
    assert refusal["error"]["status"] == 403  # the backend's answer, as pusher-js reports it
    assert [line["channel"] for line in client.of_type("subscribed")] == [marker]

    golive_pusher_sdk.trigger(theirs, "content_progress", {"job_id": "not-yours", "progress": 0})
    golive_pusher_sdk.trigger(marker, "marker", {})
    client.wait_for(event(marker, "marker"), what="the marker")
    assert client.events(theirs) == []


def test_without_a_token_the_backend_authorizes_nothing(
    pusher_js: ClientFactory, user_account: Account
) -> None:
    own, room = private_channel(user_account), f"presence-golive-{uuid.uuid4().hex[:12]}"
    client = pusher_js(None, [channel_spec(own), channel_spec(room)], signin=True)

    refusals = {line["channel"]: line["error"] for line in client.of_type("subscription_error")}
    assert set(refusals) == {own, room}
    assert {error["status"] for error in refusals.values()} == {401}
    assert client.of_type("subscribed") == []
    [signin_error] = client.of_type("signin_error")
    assert signin_error["error"]["status"] == 401
    assert client.of_type("signed_in") == []


# --- presence ----------------------------------------------------------------------------------


@pytest.fixture
def room(golive_pusher_sdk: pusher.Pusher) -> str:
    """The room, once the members of an earlier test have left it: the emulator notices a client
    gone a moment after the client's process has exited."""
    deadline = time.monotonic() + 5
    while users := golive_pusher_sdk.users_info(ROOM)["users"]:
        if time.monotonic() > deadline:
            pytest.fail(f"{ROOM} still has members from elsewhere: {users}")
        time.sleep(0.02)
    return ROOM


def test_presence_members_see_each_other_arrive_and_leave(
    pusher_js: ClientFactory,
    room: str,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
    admin_account: Account,
) -> None:
    first = pusher_js(golive_user_token, [channel_spec(room)])
    [joined] = first.of_type("subscribed")
    assert joined["me"] == member(user_account)
    assert joined["members"] == {user_account.pusher_id: member(user_account)["info"]}

    second = pusher_js(golive_admin_token, [channel_spec(room)])
    [also_joined] = second.of_type("subscribed")
    assert also_joined["me"] == member(admin_account)
    assert also_joined["members"] == {
        account.pusher_id: member(account)["info"] for account in (user_account, admin_account)
    }
    added = first.wait_for(lambda line: line["type"] == "member_added", what="pusher:member_added")
    assert added["member"] == member(admin_account)

    assert second.disconnect() == 0
    removed = first.wait_for(lambda line: line["type"] == "member_removed", what="pusher:member_removed")
    assert removed["member"] == member(admin_account)
    assert len(first.of_type("member_added")) == 1


def test_client_events_reach_the_other_members_but_not_the_sender(
    pusher_js: ClientFactory,
    room: str,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
    admin_account: Account,
) -> None:
    first = pusher_js(golive_user_token, [channel_spec(room, "client-typing", "client-seen")])
    second = pusher_js(golive_admin_token, [channel_spec(room, "client-typing", "client-seen")])

    typing = {"typing": True, "draft": "Grüße"}
    assert second.trigger(room, "client-typing", typing)["ok"] is True
    received = first.wait_for(event(room, "client-typing"), what="client-typing")
    assert received["data"] == typing
    assert received["metadata"] == {"user_id": admin_account.pusher_id}

    # An echo would reach the sender before anything the other member sends once it has the event.
    assert first.trigger(room, "client-seen", {"seen": True})["ok"] is True
    seen = second.wait_for(event(room, "client-seen"), what="client-seen")
    assert seen["metadata"] == {"user_id": user_account.pusher_id}
    assert second.events(room, "client-typing") == []


# --- sign-in -----------------------------------------------------------------------------------


def test_a_signed_in_client_receives_what_is_sent_to_its_user(
    pusher_js: ClientFactory,
    golive_pusher_sdk: pusher.Pusher,
    golive_user_token: str,
    user_account: Account,
    admin_account: Account,
) -> None:
    client = pusher_js(golive_user_token, signin=True, user_events=("notice",))
    [signed_in] = client.of_type("signed_in")
    assert signed_in["user_data"] == {
        "id": user_account.pusher_id,
        "name": user_account.username,
        "role": user_account.role,
    }

    notice = {"title": "Lesson ready", "job": {"id": str(uuid.uuid4()), "tags": ["maths", 5]}}
    golive_pusher_sdk.send_to_user(admin_account.pusher_id, "notice", {"for": "someone else"})
    golive_pusher_sdk.send_to_user(user_account.pusher_id, "notice", notice)

    received = client.wait_for(lambda line: line["type"] == "user_event", what="the notice")
    assert received == {"type": "user_event", "event": "notice", "data": notice}
    assert len(client.of_type("user_event")) == 1  # the other user's notice came first, or never


# --- events from the server side ---------------------------------------------------------------


def test_events_triggered_by_the_python_sdk_arrive_with_their_data_intact(
    pusher_js: ClientFactory, golive_pusher_sdk: pusher.Pusher
) -> None:
    channel = public_channel()
    client = pusher_js(None, [channel_spec(channel)])
    data = {
        "text": 'Grüße, 世界 🎉 "quoted" \\ back',
        "count": 3,
        "ratio": 0.25,
        "flags": [True, False, None],
        "nested": {"list": [1, {"deep": "yes"}], "empty": {}},
    }

    golive_pusher_sdk.trigger(channel, "greeting", data)

    received = client.wait_for(event(channel, "greeting"), what="greeting")
    assert received["data"] == data


def test_an_administrator_triggers_through_the_backend_and_may_exclude_a_connection(
    pusher_js: ClientFactory, golive_http: httpx.Client, golive_admin_token: str
) -> None:
    channel = public_channel()
    client = pusher_js(None, [channel_spec(channel)])
    [connected] = client.of_type("connected")

    def trigger(name: str, data: dict[str, Any], socket_id: str | None = None) -> None:
        body = {"channels": [channel], "event": name, "data": data, "socket_id": socket_id}
        response = golive_http.post("/pusher/trigger", json=body, headers=bearer(golive_admin_token))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"channels": [channel], "event": name}

    trigger("announcement", {"for": "everyone but the sender"}, socket_id=connected["socket_id"])
    trigger("announcement", {"for": "everyone"})

    received = client.wait_for(event(channel, "announcement"), what="the announcement")
    assert received["data"] == {"for": "everyone"}
    assert len(client.events(channel)) == 1
