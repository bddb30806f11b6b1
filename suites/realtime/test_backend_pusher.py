"""The backend's Pusher endpoints, checked with the emulator and the official SDK: whom /pusher/auth
signs for, that its signatures open the channels they name, triggering, webhooks, status, and
the content job's events (a failing job included)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import nacl.secret
import pusher
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import Credentials, PusherCredentials
from golive.fixtures.pusher.client import PusherSocket, SubscriptionFailed
from golive.fixtures.toxiproxy import ToxiproxyClient
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import Account

# How long after a job's completion a resent batch would still arrive: the publish's timeout,
# a retry's backoff and its own way to Pusher, with room for a busy machine.
LATE_RESEND_SECONDS = 2.0
# Jobs started at once: their events outnumber what one call to Pusher's batch API may carry.
MANY_JOBS = 8  # within the bulkhead (BULKHEAD_MAX_CONCURRENT, 10 by the guide)


@pytest.fixture
async def client(golive_sut_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """For the async tests: the event loop also serves their WebSockets."""
    async with http_clients.AsyncClient(base_url=golive_sut_url, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def envelope_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["data"] is None
    return body


def authorize(http: httpx.Client, token: str, socket_id: str, channel: str) -> httpx.Response:
    fields = {"socket_id": socket_id, "channel_name": channel}
    return http.post("/pusher/auth", data=fields, headers=bearer(token))


async def signed(
    client: httpx.AsyncClient, token: str, socket_id: str, channel: str, *, as_json: bool = False
) -> dict[str, Any]:
    """/pusher/auth's answer for a socket (as pusher-js posts it: a form; or as JSON)."""
    fields = {"socket_id": socket_id, "channel_name": channel}
    if as_json:
        response = await client.post("/pusher/auth", json=fields, headers=bearer(token))
    else:
        response = await client.post("/pusher/auth", data=fields, headers=bearer(token))
    assert response.status_code == 200, response.text
    auth: dict[str, Any] = response.json()
    return auth


async def answers(check: Awaitable[bool | None], expected: bool) -> bool:
    """`check` said `expected` (None, "cannot tell now", is neither)."""
    return await check is expected


async def poll(check: Callable[[], Awaitable[bool]], within: float = 10, what: str = "condition") -> None:
    """Polls (the backend records webhooks; nothing announces it) until `check` holds."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {within}s") from None


# --- /pusher/auth ------------------------------------------------------------------------------


@pytest.mark.external_ok
def test_auth_needs_a_token(golive_http: httpx.Client) -> None:
    body = envelope_error(
        golive_http.post("/pusher/auth", data={"socket_id": "1.2", "channel_name": "private-x"}), 401
    )
    assert body["metadata"]["error_code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "fields",
    [{}, {"socket_id": "1.2"}, {"socket_id": "abc", "channel_name": "private-user-1"}, {"channel_name": "x"}],
    ids=["empty", "no-channel", "bad-socket-id", "no-socket-id"],
)
@pytest.mark.external_ok
def test_auth_rejects_malformed_requests_with_field_errors(
    golive_http: httpx.Client, golive_user_token: str, fields: dict[str, str]
) -> None:
    body = envelope_error(
        golive_http.post("/pusher/auth", data=fields, headers=bearer(golive_user_token)), 422
    )
    assert body["metadata"]["errors"], body


async def test_a_user_opens_their_own_private_channel_with_the_signature(
    client: httpx.AsyncClient,
    golive_user_token: str,
    user_account: Account,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    channel = f"private-user-{user_account.id}"
    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        for as_json in (False, True):
            auth = await signed(client, golive_user_token, socket.socket_id, channel, as_json=as_json)
            assert set(auth) == {"auth"}  # Pusher's format: pusher-js reads it as it is
            assert auth["auth"].startswith(f"{golive_pusher_credentials.key}:")
        assert await socket.subscribe(channel, auth) == {}


async def test_a_signature_for_one_socket_does_not_open_the_channel_on_another(
    client: httpx.AsyncClient,
    golive_user_token: str,
    user_account: Account,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    channel = f"private-user-{user_account.id}"
    async with (
        await PusherSocket.connect(golive_pusher_credentials) as first,
        await PusherSocket.connect(golive_pusher_credentials) as second,
    ):
        auth = await signed(client, golive_user_token, first.socket_id, channel)
        with pytest.raises(SubscriptionFailed) as failure:
            await second.subscribe(channel, auth)
        assert failure.value.data["status"] == 401


@pytest.mark.external_ok
def test_another_users_channel_is_forbidden_but_administrators_may_watch_it(
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
    admin_account: Account,
) -> None:
    admins_channel, users_channel = f"private-user-{admin_account.id}", f"private-user-{user_account.id}"
    body = envelope_error(authorize(golive_http, golive_user_token, "1.2", admins_channel), 403)
    assert body["metadata"]["error_code"] == "FORBIDDEN"
    assert authorize(golive_http, golive_admin_token, "1.2", users_channel).status_code == 200


@pytest.mark.parametrize(
    "channel", ["content-generation", "private-billing", "private-encrypted-user-1", "#server-to-user-1"]
)
def test_channels_no_one_is_authorized_for_answer_403(
    golive_http: httpx.Client, golive_admin_token: str, channel: str
) -> None:
    # Public channels need no signature, other private ones are nobody's, and encrypted channels
    # need PUSHER_ENCRYPTION_MASTER_KEY_BASE64, which this stack does not set.
    envelope_error(authorize(golive_http, golive_admin_token, "1.2", channel), 403)


async def test_presence_members_are_the_backend_users(
    client: httpx.AsyncClient,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
    admin_account: Account,
    golive_user_credentials: Credentials,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    channel = "presence-golive-endpoints"
    async with (
        await PusherSocket.connect(golive_pusher_credentials) as user_socket,
        await PusherSocket.connect(golive_pusher_credentials) as admin_socket,
    ):
        auth = await signed(client, golive_user_token, user_socket.socket_id, channel)
        assert json.loads(auth["channel_data"]) == {
            "user_id": str(user_account.id),
            "user_info": {"name": golive_user_credentials.username, "role": "user"},
        }
        joined = await user_socket.subscribe(channel, auth)
        assert joined["presence"]["ids"] == [str(user_account.id)]
        await admin_socket.subscribe(
            channel, await signed(client, golive_admin_token, admin_socket.socket_id, channel)
        )
        added = await user_socket.expect("pusher_internal:member_added", channel)
        assert added["data"]["user_id"] == str(admin_account.id)
        assert added["data"]["user_info"]["role"] == "admin"


@pytest.mark.parametrize("as_json", [False, True])
async def test_a_presence_member_cannot_claim_another_identity(
    client: httpx.AsyncClient,
    golive_user_token: str,
    user_account: Account,
    admin_account: Account,
    as_json: bool,
) -> None:
    """Whatever channel_data a client sends along, the signature covers its own id and role."""
    forged = json.dumps({"user_id": str(admin_account.id), "user_info": {"role": "admin"}})
    fields = {"socket_id": "1234.5678", "channel_name": "presence-golive-forgery", "channel_data": forged}
    headers = bearer(golive_user_token)
    response = await (
        client.post("/pusher/auth", json=fields, headers=headers)
        if as_json
        else client.post("/pusher/auth", data=fields, headers=headers)
    )
    if response.status_code == 422:
        return  # refused outright: as good
    assert response.status_code == 200, response.text
    claimed = json.loads(response.json()["channel_data"])
    assert claimed["user_id"] == str(user_account.id)
    assert claimed["user_info"]["role"] == "user"


async def test_user_auth_signs_the_sign_in(
    client: httpx.AsyncClient,
    golive_user_token: str,
    user_account: Account,
    golive_pusher_credentials: PusherCredentials,
    golive_pusher_sdk: pusher.Pusher,
) -> None:
    uid = str(user_account.id)
    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        response = await client.post(
            "/pusher/user-auth", data={"socket_id": socket.socket_id}, headers=bearer(golive_user_token)
        )
        assert response.status_code == 200, response.text
        signin = response.json()
        assert json.loads(signin["user_data"])["id"] == uid
        await socket.send("pusher:signin", signin)
        success = await socket.expect("pusher:signin_success")
        assert success["data"]["user_data"] == signin["user_data"]
        await socket.subscribe(f"#server-to-user-{uid}")
        await asyncio.to_thread(golive_pusher_sdk.send_to_user, uid, "notice", {"text": "hello"})
        notice = await socket.expect("notice")
        assert notice["data"] == {"text": "hello"}


async def test_an_encrypted_user_channel_carries_what_only_its_user_can_read(
    golive_start_backend: BackendFactory,
    golive_user_token: str,
    golive_admin_token: str,
    user_account: Account,
    admin_account: Account,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    backend = golive_start_backend(
        {"PUSHER_ENCRYPTION_MASTER_KEY_BASE64": base64.b64encode(os.urandom(32)).decode()}
    )
    channel = f"private-encrypted-user-{user_account.id}"
    async with (
        http_clients.AsyncClient(base_url=backend.urls[0], timeout=30) as client,
        await PusherSocket.connect(golive_pusher_credentials) as socket,
    ):
        # Its signature comes with the channel's key: signed for another user, it would let them
        # read what is meant for the channel's owner alone.
        others = await client.post(
            "/pusher/auth",
            data={
                "socket_id": socket.socket_id,
                "channel_name": f"private-encrypted-user-{admin_account.id}",
            },
            headers=bearer(golive_user_token),
        )
        assert envelope_error(others, 403)["metadata"]["error_code"] == "FORBIDDEN"
        auth = await signed(client, golive_user_token, socket.socket_id, channel)
        assert set(auth) == {"auth", "shared_secret"}  # pusher-js needs the key to decrypt
        await socket.subscribe(channel, {"auth": auth["auth"]})
        body = {"channels": [channel], "event": "statement", "data": {"balance": 42}}
        response = await client.post("/pusher/trigger", json=body, headers=bearer(golive_admin_token))
        assert response.status_code == 200, response.text
        sealed = (await socket.expect("statement"))["data"]
        assert set(sealed) == {"nonce", "ciphertext"}  # the emulator saw only ciphertext
        box = nacl.secret.SecretBox(base64.b64decode(auth["shared_secret"]))
        plain = box.decrypt(base64.b64decode(sealed["ciphertext"]), base64.b64decode(sealed["nonce"]))
        assert json.loads(plain) == {"balance": 42}


# --- /pusher/trigger ---------------------------------------------------------------------------


@pytest.mark.external_ok
def test_trigger_is_for_administrators(golive_http: httpx.Client, golive_user_token: str) -> None:
    response = golive_http.post(
        "/pusher/trigger",
        json={"channels": ["news"], "event": "x", "data": {}},
        headers=bearer(golive_user_token),
    )
    envelope_error(response, 403)


async def test_trigger_delivers_to_subscribers_except_the_named_socket(
    client: httpx.AsyncClient, golive_admin_token: str, golive_pusher_credentials: PusherCredentials
) -> None:
    async with (
        await PusherSocket.connect(golive_pusher_credentials) as sender,
        await PusherSocket.connect(golive_pusher_credentials) as watcher,
    ):
        for socket in (sender, watcher):
            await socket.subscribe("golive-news")
        body = {
            "channels": ["golive-news"],
            "event": "headline",
            "data": {"title": "go"},
            "socket_id": sender.socket_id,
        }
        response = await client.post("/pusher/trigger", json=body, headers=bearer(golive_admin_token))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"channels": ["golive-news"], "event": "headline"}
        received = await watcher.expect("headline")
        assert received["data"] == {"title": "go"}
        # The sender was excluded: a later event is the first thing it sees.
        marker = {"channels": ["golive-news"], "event": "marker", "data": "m"}
        await client.post("/pusher/trigger", json=marker, headers=bearer(golive_admin_token))
        assert (await sender.next())["event"] == "marker"


@pytest.mark.parametrize(
    "body",
    [
        {"channels": [], "event": "x", "data": {}},
        {"channels": ["bad channel"], "event": "x", "data": {}},
        {"channels": [f"c{i}" for i in range(101)], "event": "x", "data": {}},
        {"channels": ["news"], "event": "", "data": {}},
        {"channels": ["news"], "event": "x", "data": "y" * 10_241},
        {"channels": ["news"], "event": "x"},
    ],
    ids=["no-channels", "bad-name", "101-channels", "no-event", "data-too-large", "no-data"],
)
@pytest.mark.external_ok
def test_trigger_validates_before_calling_pusher(
    golive_http: httpx.Client, golive_admin_token: str, body: dict[str, Any]
) -> None:
    envelope_error(golive_http.post("/pusher/trigger", json=body, headers=bearer(golive_admin_token)), 422)


# --- /pusher/webhook and /pusher/status --------------------------------------------------------


def signed_webhook(
    credentials: PusherCredentials, events: list[dict[str, Any]], time_ms: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"time_ms": time_ms or int(time.time() * 1000), "events": events}).encode()
    signature = hmac.new(credentials.secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Pusher-Key": credentials.key,
        "X-Pusher-Signature": signature,
    }


def test_webhook_with_a_valid_signature_is_recorded(
    golive_http: httpx.Client, golive_pusher_credentials: PusherCredentials
) -> None:
    channel = f"golive-webhook-{time.monotonic_ns()}"
    body, headers = signed_webhook(
        golive_pusher_credentials, [{"name": "channel_occupied", "channel": channel}]
    )
    response = golive_http.post("/pusher/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"events": 1}
    webhooks = golive_http.get("/pusher/status").json()["data"]["webhooks"]
    assert channel in webhooks["occupied_channels"]
    body, headers = signed_webhook(
        golive_pusher_credentials, [{"name": "channel_vacated", "channel": channel}]
    )
    assert golive_http.post("/pusher/webhook", content=body, headers=headers).status_code == 200
    assert channel not in golive_http.get("/pusher/status").json()["data"]["webhooks"]["occupied_channels"]


@pytest.mark.parametrize("tamper", ["signature", "key", "body", "stale", "unsigned"])
def test_webhook_with_a_bad_signature_is_rejected(
    golive_http: httpx.Client, golive_pusher_credentials: PusherCredentials, tamper: str
) -> None:
    stale = int(time.time() * 1000) - 10 * 60 * 1000 if tamper == "stale" else None
    body, headers = signed_webhook(
        golive_pusher_credentials, [{"name": "channel_occupied", "channel": "x"}], stale
    )
    if tamper == "signature":
        headers["X-Pusher-Signature"] = "0" * 64
    elif tamper == "key":
        headers["X-Pusher-Key"] = "someone-else"
    elif tamper == "body":
        body = body.replace(b'"x"', b'"y"')
    elif tamper == "unsigned":
        del headers["X-Pusher-Signature"]
    body_json = envelope_error(golive_http.post("/pusher/webhook", content=body, headers=headers), 401)
    assert body_json["metadata"]["error_code"] == "UNAUTHORIZED"


def test_a_replayed_webhook_is_rejected(
    golive_http: httpx.Client, golive_pusher_credentials: PusherCredentials
) -> None:
    channel = f"golive-replay-{time.monotonic_ns()}"
    body, headers = signed_webhook(
        golive_pusher_credentials, [{"name": "channel_vacated", "channel": channel}]
    )
    assert golive_http.post("/pusher/webhook", content=body, headers=headers).status_code == 200
    replayed = envelope_error(golive_http.post("/pusher/webhook", content=body, headers=headers), 401)
    assert replayed["message"] == "Webhook rejected: already received (a replay)"
    # A new delivery (its own time_ms and signature) is still welcome.
    body, headers = signed_webhook(
        golive_pusher_credentials, [{"name": "channel_occupied", "channel": channel}]
    )
    assert golive_http.post("/pusher/webhook", content=body, headers=headers).status_code == 200


async def test_the_emulator_webhooks_reach_the_backend(
    client: httpx.AsyncClient, golive_pusher_credentials: PusherCredentials
) -> None:
    channel = f"golive-occupancy-{time.monotonic_ns()}"

    async def occupied() -> bool | None:
        webhooks = (await client.get("/pusher/status")).json()["data"]["webhooks"]
        # None: the backend could not read Redis this time (a busy machine); ask again.
        return None if webhooks is None else channel in webhooks["occupied_channels"]

    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        await socket.subscribe(channel)
        await poll(lambda: answers(occupied(), True), what="channel_occupied webhook recorded")
    await poll(lambda: answers(occupied(), False), what="channel_vacated webhook recorded")


def test_status_describes_the_integration(
    golive_http: httpx.Client, golive_pusher_credentials: PusherCredentials
) -> None:
    status = golive_http.get("/pusher/status").json()["data"]
    assert status["enabled"] is True
    assert status["mode"] == "pusher"
    assert status["app_id"] == golive_pusher_credentials.app_id
    assert status["circuit_breaker"]["name"] == "pusher"
    assert set(status["publisher"]) >= {"published", "failed", "dropped_circuit_open", "queued"}
    assert "secret" not in json.dumps(status).lower()


# --- content events ----------------------------------------------------------------------------


async def test_a_failing_job_reports_its_failure_on_both_channels(
    client: httpx.AsyncClient,
    golive_user_token: str,
    user_account: Account,
    golive_upstream: UpstreamControl,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    channel = f"private-user-{user_account.id}"
    golive_upstream.program(error_rate=1.0, error_status=400)  # a 4xx: not retried, not a breaker failure
    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        await socket.subscribe("content-generation")
        await socket.subscribe(channel, await signed(client, golive_user_token, socket.socket_id, channel))
        response = await client.post(
            "/api/v1/content/generate", json={"prompt": "fail"}, headers=bearer(golive_user_token)
        )
        assert response.status_code == 502, response.text
        job_id = response.json()["metadata"]["details"]["content_id"]
        progress: dict[str, list[int]] = {"content-generation": [], channel: []}
        completed: dict[str, dict[str, Any]] = {}
        while len(completed) < 2:
            message = await socket.next()
            if message.get("data", {}).get("job_id") != job_id:
                continue
            if message["event"] == "content_progress":
                progress[message["channel"]].append(message["data"]["progress"])
            elif message["event"] == "content_completed":
                completed[message["channel"]] = message["data"]
        assert progress == {"content-generation": [0, 10, 100], channel: [0, 10, 100]}
        for data in completed.values():
            assert data["status"] == "failed"
            assert data["error"]


async def test_a_batch_pusher_took_is_not_sent_again_when_its_answer_is_late(
    golive_start_backend: BackendFactory,
    golive_toxiproxy: ToxiproxyClient,
    golive_user_token: str,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    """Pusher's trigger is not idempotent: a batch it took whose answer came after the backend gave
    up (PUSHER_TIMEOUT_SECONDS) is a failed publish, never one to send again, or every subscriber
    sees its events twice. Retries are allowed and the breaker kept shut, so only that is judged."""
    backend = golive_start_backend(
        {
            "PUSHER_TIMEOUT_SECONDS": "0.5",
            "RETRY_MAX_ATTEMPTS": "3",
            "CIRCUIT_BREAKER_FAILURE_THRESHOLD": "100",
        }
    )
    seen: list[tuple[str, object]] = []
    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        await socket.subscribe("content-generation")
        # The triggers reach Pusher at once (its sockets get the events); its answers, after the timeout.
        with golive_toxiproxy.toxic("pusher", "latency", {"latency": 600}, stream="downstream"):
            async with http_clients.AsyncClient(base_url=backend.urls[0], timeout=30) as http:
                response = await http.post(
                    "/api/v1/content/generate",
                    json={"prompt": "late answers"},
                    headers=bearer(golive_user_token),
                )
            assert response.status_code == 201, response.text
            job_id = response.json()["data"]["id"]
            completed_at: float | None = None
            loop = asyncio.get_running_loop()
            # Until the completion, then long enough for any resend of the last batch to arrive.
            while completed_at is None or loop.time() < completed_at + LATE_RESEND_SECONDS:
                wait = 15.0 if completed_at is None else completed_at + LATE_RESEND_SECONDS - loop.time()
                try:
                    message = await socket.next(within=max(wait, 0.01))
                except TimeoutError:
                    break
                if message.get("data", {}).get("job_id") != job_id:
                    continue
                seen.append((message["event"], message["data"].get("progress")))
                if message["event"] == "content_completed" and completed_at is None:
                    completed_at = loop.time()
    assert seen.count(("content_completed", None)) == 1, seen
    progress = [int(str(value)) for event, value in seen if event == "content_progress"]
    assert progress == sorted(set(progress)), f"an event arrived twice: {seen}"


async def test_every_jobs_events_arrive_when_many_jobs_run_at_once(
    client: httpx.AsyncClient, golive_user_token: str, golive_pusher_credentials: PusherCredentials
) -> None:
    """Many jobs at once queue more events than one call to Pusher may carry (its batch API takes
    ten): however the backend groups them, every job's completion must reach the subscribers."""
    async with await PusherSocket.connect(golive_pusher_credentials) as socket:
        await socket.subscribe("content-generation")
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/content/generate",
                    json={"prompt": f"at once {n}"},
                    headers=bearer(golive_user_token),
                )
                for n in range(MANY_JOBS)
            )
        )
        assert [response.status_code for response in responses] == [201] * MANY_JOBS
        waiting = {response.json()["data"]["id"] for response in responses}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while waiting and loop.time() < deadline:
            try:
                message = await socket.next(within=max(deadline - loop.time(), 0.01))
            except TimeoutError:
                break
            if message["event"] == "content_completed":
                waiting.discard(message["data"].get("job_id"))
    assert waiting == set(), f"{len(waiting)} of {MANY_JOBS} jobs' completions never arrived"
