"""The data plane: a listener per proxy, two links per connection (upstream: client to server,
downstream: server to client), each running its direction's toxics on every chunk.

Sockets are asyncio protocols. While a direction has no toxics and nothing is queued, a received
chunk is written to the other socket right in the callback: no task, no await, no copy (the
pass-through cost Toxiproxy's users measure). With toxics, chunks (cut to Toxiproxy's 32 KiB) go
through a bounded queue (its 1024-chunk buffer) to a task that runs the chain, so a latency toxic
delays each chunk from its own arrival without stopping the reads behind it. Flow control is
end to end: a full queue or a slow receiver pauses reading from the sender.

Changes to a proxy's toxics apply to its open connections at once. Half-closes are proxied (a
client's shutdown(SHUT_WR) reaches the server, whose answer still comes back), which Toxiproxy
does not do.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, cast

from golive.chaos.toxiproxy.toxics import LinkControl, LinkState, Toxic

CHUNK = 32 * 1024  # what toxics see at most at once, as in Toxiproxy
QUEUE_CHUNKS = 1024
DIRECTIONS = ("upstream", "downstream")
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
_DIAL_TIMEOUT_SECONDS = 10


@dataclass
class ProxyStats:
    connections_total: int = 0
    connections_active: int = 0
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0))
    refused_upstream: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "connections_total": self.connections_total,
            "connections_active": self.connections_active,
            "bytes_upstream": self.bytes["upstream"],
            "bytes_downstream": self.bytes["downstream"],
            "upstream_connect_failures": self.refused_upstream,
        }


class Side(asyncio.Protocol):
    """One socket of a proxied connection: the client's or the server's."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.outgoing: Link | None = None  # carries what this socket receives
        self.incoming: Link | None = None  # carries what this socket is sent
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = False
        self.early: list[bytes | None] = []  # data before the connection was complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses, but are
        self.transport.pause_reading()  # until both sides are connected (Connection.start)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.outgoing is None:
            self.early.append(data)
        else:
            self.outgoing.feed(data)

    def eof_received(self) -> bool:
        if self.outgoing is None:
            self.early.append(None)
        else:
            self.outgoing.feed(None)
        return True  # keep our half open: the other direction may still have data for us

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.writable.set()
        if self.outgoing is not None:
            self.outgoing.connection.close()

    def pause_writing(self) -> None:
        self.writable.clear()
        if self.incoming is not None:
            self.incoming.pause_source("receiver")

    def resume_writing(self) -> None:
        self.writable.set()
        if self.incoming is not None:
            self.incoming.resume_source("receiver")


class Link:
    """One direction of one connection."""

    def __init__(self, connection: Connection, direction: str, source: Side, destination: Side) -> None:
        self.connection = connection
        self.direction = direction
        self.source = source
        self.destination = destination
        self.states: dict[Toxic, LinkState] = {}
        self.queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
        self.pending = 0
        self.worker: asyncio.Task[None] | None = None
        self._paused_by: set[str] = set()
        # Looked up once: feed() runs for every chunk of every connection.
        self._chain = connection.proxy.chains[direction]  # the live list, mutated in place
        self._counted = connection.proxy.stats.bytes
        source.outgoing, destination.incoming = self, self

    @property
    def chain(self) -> list[Toxic]:
        return self.connection.proxy.chains[self.direction]

    def attach(self, toxic: Toxic) -> None:
        self.states[toxic] = toxic.attach(self.connection.proxy.rng)

    def detach(self, toxic: Toxic) -> None:
        state = self.states.pop(toxic, None)
        if state is not None and state.active:
            toxic.detach(state, self.connection)

    # --- flow control --------------------------------------------------------------------------

    def pause_source(self, reason: str) -> None:
        if not self._paused_by and self.source.transport is not None and not self.source.lost:
            self.source.transport.pause_reading()
        self._paused_by.add(reason)

    def resume_source(self, reason: str) -> None:
        self._paused_by.discard(reason)
        if not self._paused_by and self.source.transport is not None and not self.source.lost:
            self.source.transport.resume_reading()

    # --- data ----------------------------------------------------------------------------------

    def feed(self, data: bytes | None) -> None:
        """A chunk (None: end of stream) from the source, in order."""
        if data is not None:
            self._counted[self.direction] += len(data)
            if not self._chain and not self.pending:
                transport = self.destination.transport
                if transport is not None and not self.destination.lost:
                    transport.write(data)
                return
        elif not self._chain and not self.pending:
            self.finish()
            return
        loop = asyncio.get_running_loop()
        if self.worker is None:
            self.worker = loop.create_task(self._work())
        # The real time, not loop.time(): libuv's clock is in whole milliseconds and cached per
        # loop iteration, which would shorten latencies.
        now = time.monotonic()
        pieces: list[bytes | None] = (
            [data] if data is None else [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        )
        for piece in pieces:
            self.pending += 1
            self.queue.put_nowait(None if piece is None else (piece, now))
        if self.queue.qsize() >= QUEUE_CHUNKS:
            self.pause_source("queue")

    def _write(self, data: bytes) -> None:
        transport = self.destination.transport
        if transport is not None and not self.destination.lost:
            transport.write(data)

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is None:
                    await self._eof()
                    return
                data, read_at = item
                await self._through(list(self.chain), 0, data, read_at)
            except (ConnectionError, OSError):
                self.connection.close()
                return
            finally:
                self.pending -= 1
                if "queue" in self._paused_by and self.queue.qsize() < QUEUE_CHUNKS // 2:
                    self.resume_source("queue")

    async def _eof(self) -> None:
        for toxic in list(self.chain):
            state = self.states.get(toxic)
            if state is not None and state.active:
                await toxic.on_eof(state)
        self.finish()

    def finish(self) -> None:
        self.connection.half_close(self)

    async def _through(self, chain: list[Toxic], index: int, data: bytes, read_at: float) -> None:
        while index < len(chain):
            toxic = chain[index]
            state = self.states.get(toxic)
            if state is None or toxic.removed or not toxic.active_for_chunk(state, self.connection.proxy.rng):
                index += 1
                continue
            rest = index + 1

            async def forward(piece: bytes, rest: int = rest) -> None:
                await self._through(chain, rest, piece, read_at)

            await toxic.process(data, read_at, forward, state, self.connection)
            return
        await self.destination.writable.wait()
        if self.destination.lost:
            raise ConnectionResetError("the receiving side is gone")
        self._write(data)


class Connection(LinkControl):
    def __init__(self, proxy: Proxy, client: Side, server: Side) -> None:
        self.proxy = proxy
        self.sides = (client, server)
        self.links = {
            "upstream": Link(self, "upstream", client, server),
            "downstream": Link(self, "downstream", server, client),
        }
        self.ended: set[str] = set()
        self.closed = False
        for direction, link in self.links.items():
            for toxic in proxy.chains[direction]:
                link.attach(toxic)

    def start(self) -> None:
        """Replays what arrived before both sides were connected, then lets data flow."""
        for side in self.sides:
            early, side.early = side.early, []
            for chunk in early:
                if chunk is None:
                    side.eof_received()
                else:
                    side.data_received(chunk)
            if side.lost:
                self.close()
                return
        for side in self.sides:
            if side.transport is not None:
                side.transport.resume_reading()

    def half_close(self, link: Link) -> None:
        """One direction ended: pass the half-close on; the connection ends with both."""
        self.ended.add(link.direction)
        if len(self.ended) == 2:
            self.close()
            return
        transport = link.destination.transport
        with contextlib.suppress(OSError, RuntimeError):
            if transport is not None and transport.can_write_eof() and not link.destination.lost:
                transport.write_eof()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for side in self.sides:
            if side.transport is not None:
                side.transport.close()
        for link in self.links.values():
            if link.worker is not None and not link.worker.done():
                link.worker.cancel()
        self.proxy.forget(self)

    def reset(self) -> None:
        for side in self.sides:
            if side.transport is not None:
                sock = side.transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        self.close()


class ProxyError(Exception):
    """A failure Toxiproxy reports as a 500 with the Go-style message (bind, resolve)."""


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ProxyError(f"address {address}: missing port in address")
    return host.strip("[]"), int(port)


def normalize_listen(address: str) -> str:
    host, port = split_host_port(address)
    if host in ("0.0.0.0", "::"):  # noqa: S104 - asked for explicitly
        return f"0.0.0.0:{port}"
    if host in ("", "localhost"):
        return f"127.0.0.1:{port}"
    return address


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, enabled: bool, rng: random.Random) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = enabled
        self.rng = rng
        self.chains: dict[str, list[Toxic]] = {direction: [] for direction in DIRECTIONS}
        self.connections: set[Connection] = set()
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._dialling: set[Side] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        # Omitted, Toxiproxy listens on every interface; here only on loopback unless asked.
        host, port = split_host_port(normalize_listen(self.listen or "127.0.0.1:0"))
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._client_side, host or None, port, reuse_address=True)
        except OSError as error:
            raise ProxyError(f"listen tcp {self.listen}: bind: {error.strerror or error}") from None
        bound = self._server.sockets[0].getsockname()
        self.listen = f"{'[' + bound[0] + ']' if ':' in bound[0] else bound[0]}:{bound[1]}"
        self.enabled = True

    async def stop(self) -> None:
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for side in list(self._dialling):
            if side.transport is not None:
                side.transport.close()
        for connection in list(self.connections):
            connection.close()

    def _client_side(self) -> Side:
        client = Side()
        self._dialling.add(client)
        task = asyncio.get_running_loop().create_task(self._dial(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _dial(self, client: Side) -> None:
        """Connects the upstream for an accepted client (as Toxiproxy: a failure closes the
        client's connection without data)."""
        loop = asyncio.get_running_loop()
        try:
            host, port = split_host_port(self.upstream)
            _, server = await asyncio.wait_for(
                loop.create_connection(Side, host, port), _DIAL_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError, ProxyError):
            self.stats.refused_upstream += 1
            if client.transport is not None:
                client.transport.close()
            return
        finally:
            self._dialling.discard(client)
        if not self.enabled or client.lost:  # disabled, or the client left, while we were dialling
            for side in (client, server):
                if side.transport is not None:
                    side.transport.close()
            return
        connection = Connection(self, client, server)
        self.connections.add(connection)
        self.stats.connections_total += 1
        self.stats.connections_active += 1
        connection.start()

    def forget(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.discard(connection)
            self.stats.connections_active -= 1

    # --- toxics --------------------------------------------------------------------------------

    def find_toxic(self, name: str) -> Toxic | None:
        return next((toxic for chain in self.chains.values() for toxic in chain if toxic.name == name), None)

    def add_toxic(self, direction: str, toxic: Toxic) -> None:
        self.chains[direction].append(toxic)
        for connection in self.connections:
            connection.links[direction].attach(toxic)

    def remove_toxic(self, toxic: Toxic) -> None:
        for direction, chain in self.chains.items():
            if toxic in chain:
                chain.remove(toxic)
                toxic.removed = True
                toxic.changed()
                for connection in list(self.connections):
                    connection.links[direction].detach(toxic)

    def reroll(self, toxic: Toxic) -> None:
        """After an update, toxicity is decided again on every link (as Toxiproxy restarts stubs)."""
        for direction, chain in self.chains.items():
            if toxic in chain:
                for connection in self.connections:
                    connection.links[direction].attach(toxic)

    def remove_all_toxics(self) -> None:
        for chain in self.chains.values():
            for toxic in list(chain):
                self.remove_toxic(toxic)

    # --- the API's view ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [toxic.to_json() for direction in DIRECTIONS for toxic in self.chains[direction]],
        }
