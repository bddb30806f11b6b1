"""Real-time delivery as the app holds it: Pusher while PUSHER_ENABLED, the legacy WebSocket
otherwise. Either way, content code calls `publish` and never waits on delivery."""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as redis

from ..redis_clients import redis_client
from ..resilience.dependency import Dependency
from ..settings import Settings
from .events import Event
from .fanout import LegacySockets, RedisFanout
from .publisher import Publisher
from .pusher_gateway import PusherGateway


class Realtime:
    def __init__(
        self,
        publisher: Publisher,
        gateway: PusherGateway | None,
        legacy: LegacySockets | None,
        publishing_client: redis.Redis | None,
    ) -> None:
        self.publisher = publisher
        self.gateway = gateway
        self.legacy = legacy
        self._publishing_client = publishing_client

    @classmethod
    def open(
        cls, settings: Settings, pusher_dependency: Dependency, redis_dependency: Dependency
    ) -> Realtime:
        if settings.pusher_enabled:
            gateway = PusherGateway(settings)
            return cls(Publisher(gateway, pusher_dependency), gateway, None, None)
        # Publishing shares the app's timeouts; listening must not time out between events.
        publishing = redis_client(str(settings.redis_url), 2.0)
        listening = redis.Redis.from_url(
            str(settings.redis_url), socket_connect_timeout=2.0, health_check_interval=30
        )
        return cls(
            Publisher(RedisFanout(publishing), redis_dependency),
            None,
            LegacySockets(listening),
            publishing,
        )

    @property
    def mode(self) -> str:
        return "pusher" if self.gateway is not None else "websocket"

    def publish(self, events: Iterable[Event]) -> None:
        self.publisher.publish(events)

    def start(self) -> None:
        self.publisher.start()
        if self.legacy is not None:
            self.legacy.start()

    async def close(self) -> None:
        await self.publisher.stop()
        if self.legacy is not None:
            await self.legacy.stop()
            await self.legacy.client.aclose()
        if self.gateway is not None:
            await self.gateway.aclose()
        if self._publishing_client is not None:
            await self._publishing_client.aclose()
