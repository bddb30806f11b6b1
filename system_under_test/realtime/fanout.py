"""The legacy WebSocket path (PUSHER_ENABLED=false): `/ws/content` clients receive the same
content events as the `content-generation` channel. Replicas share events through Redis pub/sub,
so a client connected to any replica sees every replica's jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from ..logs import get_logger
from ..resilience.background import Background
from .events import CONTENT_CHANNEL, Event

logger = get_logger("system_under_test.realtime")

FANOUT_CHANNEL = "golive:realtime:events"
OUTBOX_LIMIT = 256  # messages waiting for a client that does not read, before it is cut off
RESUBSCRIBE_SECONDS = (0.1, 5.0)  # first and longest wait before listening again after a failure


def legacy_message(event: Event) -> str:
    # The legacy socket never had Pusher's double encoding: data is an object.
    return json.dumps({"event": event.name, "channel": event.channel, "data": event.data})


class RedisFanout:
    """The publisher's transport in legacy mode: one PUBLISH per batch."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def send(self, events: Sequence[Event]) -> None:
        public = [legacy_message(event) for event in events if event.channel == CONTENT_CHANNEL]
        if public:
            await self.client.publish(FANOUT_CHANNEL, json.dumps(public))


class LegacySocket:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.overflowed = asyncio.Event()

    def offer(self, text: str) -> None:
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            self.overflowed.set()
        else:
            self.outbox.put_nowait(text)

    async def write_forever(self) -> None:
        while True:
            await self.websocket.send_text(await self.outbox.get())


class LegacySockets:
    """This replica's `/ws/content` clients, fed by a Redis subscription."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.sockets: set[LegacySocket] = set()
        self.delivered = 0
        self.listening = False
        self._listener = Background("legacy-websocket-fanout")

    def start(self) -> None:
        self._listener.start(self._listen_forever())

    async def stop(self) -> None:
        await self._listener.stop()

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        socket = LegacySocket(websocket)
        self.sockets.add(socket)
        tasks = [
            asyncio.create_task(socket.write_forever()),
            asyncio.create_task(_read_until_closed(websocket)),
            asyncio.create_task(socket.overflowed.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.sockets.discard(socket)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if socket.overflowed.is_set():
            with contextlib.suppress(RuntimeError, OSError):
                await websocket.close(1013, "Too slow: messages were piling up")

    def deliver(self, messages: list[str]) -> None:
        for text in messages:
            for socket in list(self.sockets):
                socket.offer(text)
                self.delivered += 1

    async def _listen_forever(self) -> None:
        wait, longest = RESUBSCRIBE_SECONDS
        while True:
            try:
                async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(FANOUT_CHANNEL)
                    self.listening, wait = True, RESUBSCRIBE_SECONDS[0]
                    async for message in pubsub.listen():
                        self.deliver(json.loads(message["data"]))
            except (RedisError, OSError, ValueError) as error:
                logger.warning("legacy fan-out interrupted", error_type=type(error).__name__)
            self.listening = False
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)


async def _read_until_closed(websocket: WebSocket) -> None:
    """Clients have nothing to say on this socket; reading notices when they leave."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
