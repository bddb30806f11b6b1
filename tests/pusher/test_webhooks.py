"""Webhooks, received by a real HTTP server: what Pusher sends (channel_occupied/vacated,
member_added/removed once per user, client_event), signed so the SDK's validate_webhook accepts
it, batched when asked, redirected at run time, retried when the receiver fails."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from golive.fixtures.clients import PusherFactory, sdk_for
from golive.fixtures.network import wait_until
from golive.fixtures.pusher.service import PusherControl, PusherService
from tests.pusher.conftest import SocketFactory
from tests.pusher.receiver import Delivery, WebhookReceiver


def check_delivery(service: PusherService, delivery: Delivery) -> dict[str, Any]:
    """Everything a receiver checks: the headers, the signature (by the SDK), the time."""
    credentials = service.credentials
    assert delivery.path == "/pusher/webhooks"
    assert delivery.headers["content-type"] == "application/json"  # exactly: the Node SDK insists
    assert delivery.headers["x-pusher-key"] == credentials.key
    body: dict[str, Any] | None = sdk_for(credentials).validate_webhook(
        key=delivery.headers["x-pusher-key"],
        signature=delivery.headers["x-pusher-signature"],
        body=delivery.body,
    )
    assert body is not None, f"validate_webhook refused {delivery}"
    assert set(body) == {"time_ms", "events"}
    assert isinstance(body["time_ms"], int)
    assert abs(body["time_ms"] - time.time() * 1000) < 10_000, "time_ms must be Unix milliseconds"
    assert body["events"], "a webhook request carries at least one event"
    return body


def settled_stats(control: PusherControl, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The emulator's webhook counters once `done` holds (they move after the receiver answers,
    a moment after it has recorded the request)."""

    def probe() -> dict[str, Any] | None:
        stats: dict[str, Any] = control.stats()["webhooks"]
        return stats if done(stats) else None

    return wait_until(probe, timeout=5, what="webhook stats")


def check_all(service: PusherService, deliveries: list[Delivery], *, batched: bool = False) -> None:
    for delivery in deliveries:
        check_delivery(service, delivery)
        if not batched:
            assert len(delivery.events) == 1, delivery.events  # one event per request by default


async def test_channel_occupied_and_vacated(
    golive_start_pusher: PusherFactory, receiver: WebhookReceiver, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--webhook-url", receiver.url)
    first, second = await connect(service.credentials), await connect(service.credentials)
    channel = f"public-{uid}"
    await first.subscribe(channel)
    await second.subscribe(channel)  # already occupied: no second channel_occupied
    await first.unsubscribe(channel)
    await first.ping()
    await second.ws.close()  # the last subscriber leaves by disconnecting
    vacated = {"name": "channel_vacated", "channel": channel}
    events, deliveries = await receiver.events_until(channel, vacated)
    assert events == [{"name": "channel_occupied", "channel": channel}, vacated]
    check_all(service, deliveries)


async def test_member_events_once_per_user(
    golive_start_pusher: PusherFactory, receiver: WebhookReceiver, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--webhook-url", receiver.url)
    sdk = sdk_for(service.credentials)
    channel, user = f"presence-{uid}", f"user-{uid}"
    sockets = [await connect(service.credentials), await connect(service.credentials)]
    for socket in sockets:
        await socket.subscribe_presence(sdk, channel, user)
    await sockets[0].unsubscribe(channel)
    await sockets[0].ping()
    await sockets[1].ws.close()
    vacated = {"name": "channel_vacated", "channel": channel}
    events, deliveries = await receiver.events_until(channel, vacated)
    assert events == [
        {"name": "channel_occupied", "channel": channel},
        {"name": "member_added", "channel": channel, "user_id": user},
        {"name": "member_removed", "channel": channel, "user_id": user},
        vacated,
    ]
    check_all(service, deliveries)


async def test_client_event_webhooks(
    golive_start_pusher: PusherFactory, receiver: WebhookReceiver, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--webhook-url", receiver.url)
    sdk = sdk_for(service.credentials)
    sender, other = await connect(service.credentials), await connect(service.credentials)

    private = f"private-{uid}"
    for socket in (sender, other):
        await socket.subscribe_private(sdk, private)
    await sender.send("client-typing", "a string, as sent", private)
    await other.expect("client-typing", private)
    event = {
        "name": "client_event",
        "channel": private,
        "event": "client-typing",
        "data": "a string, as sent",
        "socket_id": sender.socket_id,
    }  # no user_id off presence
    events, deliveries = await receiver.events_until(private, event)
    assert events == [{"name": "channel_occupied", "channel": private}, event]
    check_all(service, deliveries)

    presence = f"presence-{uid}"
    await other.subscribe_presence(sdk, presence, f"other-{uid}")
    await sender.subscribe_presence(sdk, presence, f"sender-{uid}")
    await other.expect("pusher_internal:member_added", presence)
    await sender.send("client-wave", {"hand": "left"}, presence)
    await other.expect("client-wave", presence)
    events, deliveries = await _until_client_event(receiver, presence)
    client_event = events[-1]
    assert client_event["user_id"] == f"sender-{uid}"
    assert client_event["socket_id"] == sender.socket_id
    assert client_event["event"] == "client-wave"
    assert json.loads(client_event["data"]) == {"hand": "left"}  # object data arrives as its JSON
    assert [event["name"] for event in events] == [
        "channel_occupied",
        "member_added",
        "member_added",
        "client_event",
    ]
    check_all(service, deliveries)


async def _until_client_event(
    receiver: WebhookReceiver, channel: str
) -> tuple[list[dict[str, Any]], list[Delivery]]:
    events: list[dict[str, Any]] = []
    deliveries: list[Delivery] = []
    while not events or events[-1]["name"] != "client_event":
        delivery = await receiver.next()
        deliveries.append(delivery)
        events += [event for event in delivery.events if event.get("channel") == channel]
    return events, deliveries


async def test_batched_webhooks_carry_every_event(
    golive_start_pusher: PusherFactory, receiver: WebhookReceiver, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--webhook-url", receiver.url, "--batch-webhooks")
    socket = await connect(service.credentials)
    channels = [f"batch-{uid}-{n}" for n in range(8)]
    for channel in channels:
        await socket.request_subscribe(channel, "")
    for channel in channels:
        await socket.expect("pusher_internal:subscription_succeeded", channel)
    for channel in channels:
        await socket.unsubscribe(channel)
    expected = [{"name": "channel_occupied", "channel": channel} for channel in channels]
    expected += [{"name": "channel_vacated", "channel": channel} for channel in channels]
    received: list[dict[str, Any]] = []
    while len(received) < len(expected):
        delivery = await receiver.next()
        check_delivery(service, delivery)
        received += delivery.events  # however many a request holds: receivers iterate
    assert received == expected


async def test_set_webhook_redirects_deliveries(
    golive_start_pusher: PusherFactory, receiver: WebhookReceiver, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher("--webhook-url", receiver.url)
    control = service.client()
    other = WebhookReceiver().start()
    try:
        socket = await connect(service.credentials)
        await socket.subscribe(f"first-{uid}")
        first, _ = await receiver.events_until(
            f"first-{uid}", {"name": "channel_occupied", "channel": f"first-{uid}"}
        )
        assert first == [{"name": "channel_occupied", "channel": f"first-{uid}"}]

        control.set_webhook(other.url)
        await socket.subscribe(f"second-{uid}")
        delivery = await other.next()
        check_delivery(service, delivery)
        assert delivery.events == [{"name": "channel_occupied", "channel": f"second-{uid}"}]
        # Deliveries go out one after another: had any gone to the old URL, it would be there now.
        receiver.assert_idle()

        control.set_webhook(None)  # webhooks off...
        await socket.subscribe(f"unheard-{uid}")
        await socket.ping()
        control.set_webhook(other.url)  # ...and on again: nothing from while they were off
        await socket.subscribe(f"third-{uid}")
        delivery = await other.next()
        assert delivery.events == [{"name": "channel_occupied", "channel": f"third-{uid}"}]
        receiver.assert_idle()
        settled_stats(control, lambda stats: stats["events_delivered"] == 3)
    finally:
        other.stop()
        control.close()


async def test_failed_delivery_is_retried(
    golive_start_pusher: PusherFactory, connect: SocketFactory, uid: str
) -> None:
    failing = WebhookReceiver(fail_first=2).start()
    try:
        service = golive_start_pusher("--webhook-url", failing.url)
        socket = await connect(service.credentials)
        channel = f"retried-{uid}"
        await socket.subscribe(channel)
        attempts = [await failing.next(), await failing.next(), await failing.next()]
        assert [attempt.status for attempt in attempts] == [500, 500, 200]
        for attempt in attempts:  # the same event each time, each attempt signed afresh
            check_delivery(service, attempt)
            assert attempt.events == [{"name": "channel_occupied", "channel": channel}]
        control = service.client()
        try:
            stats = settled_stats(control, lambda stats: stats["events_delivered"] == 1)
        finally:
            control.close()
        assert stats["failed_attempts"] == 2
        assert stats["requests_sent"] == 3
        assert stats["events_dropped"] == 0
    finally:
        failing.stop()
