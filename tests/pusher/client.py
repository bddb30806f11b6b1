"""A Pusher protocol-7 WebSocket client for the emulator's conformance tests, on the `websockets`
library: every wait has a deadline, and every expectation is about the *next* message, so a test
that says "the next thing this socket sees is the marker" proves nothing else came before it."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pusher
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from golive.fixtures.description import PusherCredentials

DEADLINE = 5.0  # seconds any single expected message may take
# What pusher-js 8.6.0 puts in its URL (VERIFIED in the research notes), and what Pysher 1.0.8 does.
PUSHER_JS_QUERY = "protocol=7&client=js&version=8.6.0&flash=false"
PYSHER_QUERY = "client=Pysher&version=1.0.7&protocol=6"

Message = dict[str, Any]


def ws_url(credentials: PusherCredentials, path: str) -> str:
    return f"ws://{credentials.host}:{credentials.port}{path}"


def app_path(credentials: PusherCredentials, query: str | None = PUSHER_JS_QUERY) -> str:
    return f"/app/{credentials.key}" + (f"?{query}" if query is not None else "")


def parse(frame: str | bytes) -> Message:
    assert isinstance(frame, str), f"the server sent a binary frame: {frame!r}"
    message = json.loads(frame)
    assert isinstance(message, dict), f"not a JSON object: {frame}"
    return message


def string_data(message: Message) -> Any:
    """The payload of a `pusher:`/`pusher_internal:` event, which the protocol double-encodes:
    `data` must be a string holding JSON."""
    data = message.get("data")
    assert isinstance(data, str), f"{message['event']} data must be a JSON string, got {data!r}"
    return json.loads(data)


@dataclass
class Closed:
    """How a connection ended: the close frame the server sent, and what came before it."""

    code: int | None
    reason: str | None
    messages: list[Message] = field(default_factory=list)


async def read_until_closed(ws: ClientConnection, deadline: float = DEADLINE) -> Closed:
    messages: list[Message] = []

    async def read() -> Closed:
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as closed:
                received = closed.rcvd
                if received is None:
                    return Closed(None, None, messages)
                return Closed(received.code, received.reason, messages)
            messages.append(parse(frame))

    return await asyncio.wait_for(read(), deadline)


class PusherSocket:
    """One established connection (connection_established already read)."""

    def __init__(self, ws: ClientConnection, established: Message) -> None:
        self.ws = ws
        self.established = established
        payload = string_data(established)
        self.socket_id: str = payload["socket_id"]
        self.activity_timeout: int = payload["activity_timeout"]

    # --- sending -----------------------------------------------------------------------------

    async def send(self, event: str, data: Any = None, channel: str | None = None) -> None:
        message: Message = {"event": event}
        if data is not None:
            message["data"] = data
        if channel is not None:
            message["channel"] = channel
        await self.ws.send(json.dumps(message))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    # --- receiving ---------------------------------------------------------------------------

    async def recv(self, deadline: float = DEADLINE) -> Message:
        return parse(await asyncio.wait_for(self.ws.recv(), deadline))

    async def expect(self, event: str, channel: str | None = None, deadline: float = DEADLINE) -> Message:
        """The next message, which must be `event` (on `channel`, when given)."""
        message = await self.recv(deadline)
        assert message.get("event") == event, f"expected {event}, got {message}"
        if channel is not None:
            assert message.get("channel") == channel, f"expected {event} on {channel}, got {message}"
        return message

    async def expect_error(self, code: int | None = None) -> Message:
        """The next message must be `pusher:error`, with an object `data` holding this code."""
        message = await self.expect("pusher:error")
        data = message["data"]
        assert isinstance(data, dict), f"pusher:error data must be an object: {message}"
        assert isinstance(data.get("message"), str), message
        assert data["message"], message
        if code is not None:
            assert data.get("code") == code, f"expected error code {code}, got {message}"
        return message

    async def closed(self, deadline: float = DEADLINE) -> Closed:
        return await read_until_closed(self.ws, deadline)

    # --- the protocol's conversations --------------------------------------------------------

    async def ping(self, data: Any = None) -> Message:
        """pusher:ping, answered by pusher:pong as the very next message: also the proof that
        everything this socket sent before was handled (the server handles messages in order)."""
        await self.send("pusher:ping", {} if data is None else data)
        return await self.expect("pusher:pong")

    async def request_subscribe(
        self, channel: str, auth: str | None = None, channel_data: str | None = None
    ) -> None:
        data: Message = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send("pusher:subscribe", data)

    async def subscribe(self, channel: str, auth: str | None = "", channel_data: str | None = None) -> Any:
        """Subscribes and expects success; the succeeded event's (decoded) payload."""
        await self.request_subscribe(channel, auth, channel_data)
        return string_data(await self.expect("pusher_internal:subscription_succeeded", channel))

    async def subscribe_private(self, sdk: pusher.Pusher, channel: str) -> Any:
        return await self.subscribe(channel, sdk.authenticate(channel, self.socket_id)["auth"])

    async def subscribe_presence(
        self, sdk: pusher.Pusher, channel: str, user_id: Any, user_info: Any = None
    ) -> dict[str, Any]:
        """Joins as the member the SDK signs (its own json.dumps, spaces and all); the presence
        payload of subscription_succeeded."""
        member: Message = {"user_id": user_id}
        if user_info is not None:
            member["user_info"] = user_info
        auth = sdk.authenticate(channel, self.socket_id, member)
        payload = await self.subscribe(channel, auth["auth"], auth["channel_data"])
        assert set(payload) == {"presence"}, payload
        presence: dict[str, Any] = payload["presence"]
        return presence

    async def expect_subscription_error(self, channel: str, kind: str, status: int) -> Message:
        message = await self.expect("pusher:subscription_error", channel)
        data = message["data"]
        assert isinstance(data, dict), message
        assert data.get("type") == kind, message
        assert data.get("status") == status, message
        assert isinstance(data.get("error"), str), message
        assert data["error"], message
        return data

    async def unsubscribe(self, channel: str) -> None:
        await self.send("pusher:unsubscribe", {"channel": channel})

    async def sign_in(self, sdk: pusher.Pusher, user_data: dict[str, Any]) -> Message:
        auth = sdk.authenticate_user(self.socket_id, user_data)
        await self.send("pusher:signin", auth)
        return await self.expect("pusher:signin_success")


@asynccontextmanager
async def open_raw(
    credentials: PusherCredentials, path: str, **options: Any
) -> AsyncIterator[ClientConnection]:
    """A plain WebSocket to any path of the emulator (protocol-level pings off: liveness is the
    protocol's own pusher:ping, which the activity-timeout tests watch)."""
    # A close handshake waits behind whatever the client left unread: bounded, so a test that
    # leaves a backlog costs seconds at teardown, not minutes.
    options.setdefault("close_timeout", 2)
    async with connect(ws_url(credentials, path), ping_interval=None, open_timeout=DEADLINE, **options) as ws:
        yield ws


@asynccontextmanager
async def open_socket(
    credentials: PusherCredentials, query: str | None = PUSHER_JS_QUERY, **options: Any
) -> AsyncIterator[PusherSocket]:
    async with open_raw(credentials, app_path(credentials, query), **options) as ws:
        established = parse(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert established.get("event") == "pusher:connection_established", established
        yield PusherSocket(ws, established)


async def expect_marker(sdk: pusher.Pusher, channel: str, *sockets: PusherSocket) -> None:
    """The barrier for "nothing arrived": publishes a marker on `channel` (which every socket is
    subscribed to) and asserts it is the next message each socket sees. The emulator queues what a
    socket is sent in order, so anything that was going to arrive would have come first."""
    marker = f"marker-{secrets.token_hex(4)}"
    sdk.trigger(channel, "golive-marker", marker)
    for socket in sockets:
        message = await socket.recv()
        assert message == {"event": "golive-marker", "channel": channel, "data": marker}, (
            f"expected nothing before the marker on socket {socket.socket_id}, got {message}"
        )
