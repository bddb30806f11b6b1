"""The toxics: each a small type behind one interface, as in Toxiproxy.

A toxic sits in one direction of every connection of its proxy. For each chunk it is handed the
data, the time the chunk was read, and `forward`, the rest of the chain; it calls `forward` zero or
more times (delayed, sliced, truncated) or drops the data. Waits are interruptible: when a toxic
is updated or removed, a held chunk moves on at once (Toxiproxy never drops data in flight).

Attributes are validated (Toxiproxy accepts anything and some values crash its server): a bad
value is a 400, never a crash.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Forward = Callable[[bytes], Awaitable[None]]


class InvalidAttributes(ValueError):
    pass


class LinkControl(Protocol):
    """What a toxic may do to the connection it sits in."""

    def close(self) -> None: ...

    def reset(self) -> None: ...


class Attributes(BaseModel):
    # Toxiproxy ignores unknown attributes; so do we. Values must be whole numbers, as in Go.
    model_config = ConfigDict(extra="ignore", strict=True)


class NoAttributes(Attributes):
    pass


class LatencyAttributes(Attributes):
    latency: int = Field(default=0, ge=0, description="milliseconds")
    jitter: int = Field(default=0, ge=0, description="milliseconds, uniform in [-jitter, +jitter)")


class BandwidthAttributes(Attributes):
    rate: int = Field(default=0, ge=0, description="KB/s (1 KB = 1000 bytes); 0 stalls the stream")


class DelayAttributes(Attributes):
    delay: int = Field(default=0, ge=0, description="milliseconds")


class TimeoutAttributes(Attributes):
    timeout: int = Field(default=0, ge=0, description="milliseconds; 0 = never close")


class SlicerAttributes(Attributes):
    average_size: int = Field(default=0, ge=0)
    size_variation: int = Field(default=0, ge=0)
    delay: int = Field(default=0, ge=0, description="microseconds between slices")

    @model_validator(mode="after")
    def _sane(self) -> SlicerAttributes:
        # Toxiproxy recurses forever (average 0) or panics (variation >= average) here.
        if self.average_size == 0:
            raise ValueError("average_size must be positive")
        if self.size_variation >= self.average_size:
            raise ValueError("size_variation must be smaller than average_size")
        return self


class LimitDataAttributes(Attributes):
    bytes: int = Field(default=0, ge=0)


@dataclass
class LinkState:
    """One toxic on one link: whether it is active there (toxicity) and what it remembers."""

    active: bool
    counter: int = 0
    seen_first: bool = False
    timer: asyncio.TimerHandle | None = None


class Toxic:
    """A configured toxic: the API's view (name, stream, toxicity, attributes) and its behaviour."""

    kind: ClassVar[str]  # the API's "type"
    attributes_model: ClassVar[type[Attributes]]

    def __init__(
        self, name: str, stream: str, toxicity: float, attributes: Attributes, scope: str = "connection"
    ) -> None:
        self.name = name
        self.stream = stream  # as the client wrote it; the direction is parsed elsewhere
        self.toxicity = toxicity
        self.attributes = attributes
        # Toxiproxy rolls toxicity once per connection (and direction): with pooled keep-alive
        # clients "50 %" then means all or nothing (issues #148, #239). "chunk" rolls per chunk.
        self.scope = scope
        self._changed = asyncio.Event()
        self.removed = False

    # --- the API's view ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        document = {
            "attributes": self.attributes.model_dump(),
            "name": self.name,
            "type": self.kind,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }
        if self.scope != "connection":  # an extension: absent unless asked for, as in Toxiproxy
            document["toxicity_scope"] = self.scope
        return document

    def active_for_chunk(self, state: LinkState, rng: random.Random) -> bool:
        return rng.random() < self.toxicity if self.scope == "chunk" else state.active

    def update(self, attributes: dict[str, Any] | None, toxicity: float | None) -> None:
        if attributes is not None:
            self.attributes = validate_attributes(
                self.attributes_model, {**self.attributes.model_dump(), **attributes}
            )
        if toxicity is not None:
            self.toxicity = toxicity
        self.changed()

    def changed(self) -> None:
        """Wakes every wait in progress (they re-read the attributes or let their chunk go)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Sleeps, unless the toxic changes first. True when the full time passed."""
        if seconds <= 0:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), seconds)
        except TimeoutError:
            return True
        return False

    # --- behaviour (the defaults are a pass-through) ----------------------------------------------

    def attach(self, rng: random.Random) -> LinkState:
        return LinkState(active=rng.random() < self.toxicity)

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        await forward(data)

    async def on_eof(self, state: LinkState) -> None:
        return None

    def detach(self, state: LinkState, link: LinkControl) -> None:
        return None


class Noop(Toxic):
    kind = "noop"
    attributes_model = NoAttributes

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "attributes": {}}


class Latency(Toxic):
    kind = "latency"
    attributes_model = LatencyAttributes
    attributes: LatencyAttributes

    def __init__(self, *args: Any, rng: random.Random | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = rng or random.Random()  # noqa: S311 - fault injection, not cryptography

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        # From when the chunk was read, so back-to-back chunks are pipelined, not cumulative.
        jitter = self.attributes.jitter
        offset = self.rng.uniform(-jitter, jitter) if jitter else 0.0
        while not self.removed:
            # Re-read each time: an update changes the latency; and timers may fire a little
            # early (asyncio and libuv round to their clock resolution), which must not shorten it.
            remaining = read_at + (self.attributes.latency + offset) / 1000 - time.monotonic()
            if remaining <= 0:
                break
            await self.wait(remaining)
        await forward(data)


class Bandwidth(Toxic):
    kind = "bandwidth"
    attributes_model = BandwidthAttributes
    attributes: BandwidthAttributes

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        while data and not self.removed:
            rate = self.attributes.rate  # bytes per millisecond
            if rate == 0:
                await self.wait(3600)  # stalled until the toxic changes
                continue
            # At most 100 ms worth at a time, each sent once its time has passed (as Toxiproxy).
            piece = data[: rate * 100]
            if not await self.wait(len(piece) / rate / 1000):
                continue  # the rate changed: recompute with the new one
            data = data[len(piece) :]
            await forward(piece)
        if data:
            await forward(data)


class SlowClose(Toxic):
    kind = "slow_close"
    attributes_model = DelayAttributes
    attributes: DelayAttributes

    async def on_eof(self, state: LinkState) -> None:
        await self.wait(self.attributes.delay / 1000)


class Timeout(Toxic):
    """Drops all data; closes the connection `timeout` ms after the last chunk (0: never).
    Removing it closes the connections it sat in, as Toxiproxy does."""

    kind = "timeout"
    attributes_model = TimeoutAttributes
    attributes: TimeoutAttributes

    def arm(self, state: LinkState, link: LinkControl) -> None:
        if state.timer is not None:
            state.timer.cancel()
        if self.attributes.timeout > 0:
            state.timer = asyncio.get_running_loop().call_later(self.attributes.timeout / 1000, link.close)

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        self.arm(state, link)  # each chunk starts the wait again

    def detach(self, state: LinkState, link: LinkControl) -> None:
        if state.timer is not None:
            state.timer.cancel()
        link.close()


class ResetPeer(Toxic):
    """Swallows the next chunk (or EOF), waits `timeout` ms, then resets the connection (RST)."""

    kind = "reset_peer"
    attributes_model = TimeoutAttributes
    attributes: TimeoutAttributes

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        if state.seen_first:
            return  # after the first chunk nothing passes: the reset is coming
        state.seen_first = True
        await self.wait(self.attributes.timeout / 1000)
        link.reset()

    async def on_eof(self, state: LinkState) -> None:
        await self.wait(self.attributes.timeout / 1000)


class Slicer(Toxic):
    kind = "slicer"
    attributes_model = SlicerAttributes
    attributes: SlicerAttributes

    def __init__(self, *args: Any, rng: random.Random | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = rng or random.Random()  # noqa: S311

    def slices(self, data: bytes) -> list[bytes]:
        average, variation = self.attributes.average_size, self.attributes.size_variation
        pieces, pending = [], [data]
        while pending:
            chunk = pending.pop()
            if len(chunk) <= average + variation:
                pieces.append(chunk)
                continue
            middle = len(chunk) // 2 + (self.rng.randint(-variation, variation) if variation else 0)
            middle = min(max(middle, 1), len(chunk) - 1)
            pending.extend([chunk[middle:], chunk[:middle]])
        return pieces

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        for index, piece in enumerate(self.slices(data)):
            if index:
                await self.wait(self.attributes.delay / 1_000_000)
            await forward(piece)


class LimitData(Toxic):
    """Passes `bytes` bytes (per connection and direction), then closes the connection."""

    kind = "limit_data"
    attributes_model = LimitDataAttributes
    attributes: LimitDataAttributes

    async def process(
        self, data: bytes, read_at: float, forward: Forward, state: LinkState, link: LinkControl
    ) -> None:
        allowed = max(0, self.attributes.bytes - state.counter)
        if allowed:
            state.counter += min(allowed, len(data))
            await forward(data[:allowed])
        if state.counter >= self.attributes.bytes:
            link.close()


TOXIC_TYPES: dict[str, type[Toxic]] = {
    toxic.kind: toxic
    for toxic in (Noop, Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def validate_attributes(model: type[Attributes], raw: Any) -> Attributes:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidAttributes("attributes must be an object")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidAttributes(f"{where}: {message}" if where else message) from None


def build_toxic(
    kind: type[Toxic],
    name: str,
    stream: str,
    toxicity: float,
    attributes: Any,
    rng: random.Random,
    scope: str,
) -> Toxic:
    values = validate_attributes(kind.attributes_model, attributes)
    if kind in (Latency, Slicer):
        return kind(name, stream, toxicity, values, scope, rng=rng)
    return kind(name, stream, toxicity, values, scope)
