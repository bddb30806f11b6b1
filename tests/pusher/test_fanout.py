"""The fan-out's wire: an event is encoded once as a WebSocket frame and those bytes go to every
subscriber (fixtures/pusher/wire.py). So the frame must be what any client parses back to the text,
and no socket may negotiate an extension that would make its frames its own (permessage-deflate:
soketi does not offer it either). A socket that falls behind is covered in test_slow_reader.py."""

from __future__ import annotations

import asyncio

import pusher
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.protocol import text_frame
from tests.pusher.client import app_path, open_raw
from tests.pusher.conftest import SocketFactory


def parsed(frame: bytes) -> Frame:
    """The frame as a client reads it (websockets' own parser: unmasked, as from a server)."""
    reader = StreamReader()
    reader.feed_data(frame)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        result: Frame = done.value
        assert reader.at_eof(), "bytes left after the frame"
        return result
    raise AssertionError("the frame is incomplete")


# Lengths around the header's three forms: 7 bits, 16 bits (from 126), 64 bits (from 65,536).
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 100_000])
def test_a_text_frame_parses_back_to_its_text(size: int) -> None:
    text = "x" * size
    frame = parsed(text_frame(text))
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert bytes(frame.data).decode() == text


def test_a_text_frame_carries_utf8() -> None:
    text = '{"event":"tick","data":"héllo ✓ 🚀"}'
    assert bytes(parsed(text_frame(text)).data).decode() == text


async def test_no_extension_is_negotiated_though_the_client_offers_compression(
    credentials: PusherCredentials,
) -> None:
    # websockets' client offers permessage-deflate unless told not to.
    async with open_raw(credentials, app_path(credentials), compression="deflate") as ws:
        assert ws.request is not None
        assert ws.response is not None
        assert "permessage-deflate" in (ws.request.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None


async def test_every_subscriber_gets_the_event_once_and_whole(
    connect: SocketFactory, credentials: PusherCredentials, sdk: pusher.Pusher, uid: str
) -> None:
    channel = f"fanout-{uid}"
    sockets = [await connect(credentials) for _ in range(20)]
    for socket in sockets:
        await socket.subscribe(channel)
    data = "é" * 2000  # 4,000 bytes: a 16-bit length, counted in bytes
    sdk.trigger(channel, "tick", data)
    sdk.trigger(channel, "tock", "after")
    received = await asyncio.gather(*(socket.recv() for socket in sockets))
    assert all(message == {"event": "tick", "channel": channel, "data": data} for message in received)
    received = await asyncio.gather(*(socket.recv() for socket in sockets))
    assert all(message["event"] == "tock" for message in received)
