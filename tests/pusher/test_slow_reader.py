"""A client that stops reading delays no one else, and is cut off (close 4100) once its outbox is
full (1000 messages), rather than kept subscribed forever.

The non-reader is a raw TCP socket speaking just enough WebSocket to subscribe, with a tiny receive
buffer, that then reads nothing (a client library would keep reading in the background)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

from golive.fixtures.clients import PusherFactory, sdk_for
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.protocol import Close
from tests.pusher.client import app_path
from tests.pusher.conftest import SocketFactory

EVENT_BYTES = 10_000  # about the largest event (the SDK counts sys.getsizeof, not bytes)
BATCH = 10  # the largest batch
# What a non-reader can hold: the server's socket send buffer (Linux grows it to 4 MB at most),
# the transport's buffer, an outbox of 1000 messages. This many events overflow that twice over.
MAX_BATCHES = 300


class RawWebSocket:
    """A blocking WebSocket client over a plain socket: it reads only when told to."""

    def __init__(self, credentials: PusherCredentials) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no autotuning to megabytes
        self.sock.settimeout(5)
        self.sock.connect((credentials.host, credentials.port))
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {app_path(credentials)} HTTP/1.1\r\nHost: {credentials.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = self._read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        assert len(payload) < 126
        masked = bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def read_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame (unmasked, unfragmented)."""
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def read_message(self) -> dict[str, object]:
        opcode, payload = self.read_frame()
        assert opcode == 0x1, (opcode, payload)
        message: dict[str, object] = json.loads(payload)
        return message

    def read_until_close(self) -> tuple[int, list[dict[str, object]]]:
        """Reads everything already sent: the messages, then the close frame's code."""
        messages: list[dict[str, object]] = []
        while True:
            opcode, payload = self.read_frame()
            if opcode == 0x8:
                (code,) = struct.unpack("!H", payload[:2])
                return code, messages
            assert opcode == 0x1, opcode
            messages.append(json.loads(payload))

    def close(self) -> None:
        self.sock.close()

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        self.buffer += chunk


async def test_a_client_that_stops_reading_is_cut_off_without_delaying_others(
    golive_start_pusher: PusherFactory, connect: SocketFactory, uid: str
) -> None:
    service = golive_start_pusher()
    credentials = service.credentials
    sdk = sdk_for(credentials)
    control = service.client()
    channel = f"burst-{uid}"
    slow = RawWebSocket(credentials)
    try:
        assert slow.read_message()["event"] == "pusher:connection_established"
        slow.send_text(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert slow.read_message()["event"] == "pusher_internal:subscription_succeeded"
        fast = await connect(credentials)
        await fast.subscribe(channel)
        # From here on the slow client reads nothing.

        payload = "x" * EVENT_BYTES
        published = 0
        for _ in range(MAX_BATCHES):
            sdk.trigger_batch([{"channel": channel, "name": "tick", "data": payload} for _ in range(BATCH)])
            published += BATCH
            for _ in range(BATCH):  # the reader gets every event at once, whatever the other does
                assert (await fast.recv())["event"] == "tick"
            if control.stats()["connections"] == 1:
                break
        else:
            raise AssertionError(f"the non-reader was still connected after {published} events")

        # Cut off: gone from the channel, while the reader goes on as before.
        assert sdk.channel_info(channel, ["subscription_count"]) == {
            "occupied": True,
            "subscription_count": 1,
        }
        sdk.trigger(channel, "after", "still here")
        assert (await fast.expect("after", channel))["data"] == "still here"

        # Reading again, the non-reader finds what was already on its way, then why it was cut off.
        code, messages = await asyncio.to_thread(slow.read_until_close)
        assert code == Close.OVER_CAPACITY
        assert {message["event"] for message in messages} == {"tick"}
        assert 0 < len(messages) < published
    finally:
        slow.close()
        control.close()


async def test_a_client_that_falls_behind_gets_every_event_in_order(
    golive_start_pusher: PusherFactory, connect: SocketFactory, uid: str
) -> None:
    """Events go straight onto a socket until its transport holds too much, then into its outbox,
    and straight on again once that has drained: none overtakes another on the way. Fewer events
    than the outbox holds, so the client is behind, never cut off."""
    credentials = golive_start_pusher().credentials
    sdk = sdk_for(credentials)
    channel = f"behind-{uid}"
    events = 600  # 6 MB: more than the socket buffers hold (4 MB at most), fewer than the outbox
    slow = RawWebSocket(credentials)
    try:
        assert slow.read_message()["event"] == "pusher:connection_established"
        slow.send_text(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert slow.read_message()["event"] == "pusher_internal:subscription_succeeded"
        fast = await connect(credentials)
        await fast.subscribe(channel)

        padding = "x" * (EVENT_BYTES - 6)
        for first in range(0, events, BATCH):
            sdk.trigger_batch(
                [
                    {"channel": channel, "name": "tick", "data": f"{n:06d}{padding}"}
                    for n in range(first, first + BATCH)
                ]
            )
        for _ in range(events):  # all published and delivered elsewhere before the slow one reads
            assert (await fast.recv())["event"] == "tick"
        sdk.trigger(channel, "last", "done")
        assert (await fast.recv())["event"] == "last"

        def read_all() -> list[dict[str, object]]:
            return [slow.read_message() for _ in range(events + 1)]

        messages = await asyncio.to_thread(read_all)
        assert [str(message["data"])[:6] for message in messages[:-1]] == [f"{n:06d}" for n in range(events)]
        assert messages[-1]["event"] == "last"
    finally:
        slow.close()
