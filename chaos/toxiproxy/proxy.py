"""The data plane: a listener per proxy, two links per connection (upstream: client to server,
downstream: server to client), each running its direction's toxics on every chunk.

A link reads continuously; while its direction has no toxics and nothing is queued, it writes
straight through (the pass-through cost is one read and one write). With toxics, chunks go through
a bounded queue (Toxiproxy's 1024-chunk buffer) to a task that runs the chain, so a latency toxic
delays each chunk from its own read time without stopping the reads behind it.

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
from dataclasses import dataclass, field
from typing import Any

from chaos.toxiproxy.toxics import LinkControl, LinkState, Toxic

CHUNK = 32 * 1024
QUEUE_CHUNKS = 1024
DIRECTIONS = ("upstream", "downstream")
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


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


class Link:
    """One direction of one connection."""

    def __init__(
        self,
        connection: Connection,
        direction: str,
        source: asyncio.StreamReader,
        destination: asyncio.StreamWriter,
    ) -> None:
        self.connection = connection
        self.direction = direction
        self.source = source
        self.destination = destination
        self.states: dict[Toxic, LinkState] = {}
        self.queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue(QUEUE_CHUNKS)
        self.pending = 0
        self.worker: asyncio.Task[None] | None = None

    @property
    def chain(self) -> list[Toxic]:
        return self.connection.proxy.chains[self.direction]

    def attach(self, toxic: Toxic) -> None:
        self.states[toxic] = toxic.attach(self.connection.proxy.rng)

    def detach(self, toxic: Toxic) -> None:
        state = self.states.pop(toxic, None)
        if state is not None and state.active:
            toxic.detach(state, self.connection)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stats = self.connection.proxy.stats.bytes
        try:
            while data := await self.source.read(CHUNK):
                stats[self.direction] += len(data)
                if not self.chain and not self.pending:
                    self.destination.write(data)
                    await self.destination.drain()
                    continue
                self._ensure_worker()
                self.pending += 1
                await self.queue.put((data, loop.time()))
        except (ConnectionError, OSError):
            pass
        self._ensure_worker()
        await self.queue.put(None)  # end of stream, after everything queued
        if self.worker is not None:
            await self.worker

    def _ensure_worker(self) -> None:
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while (item := await self.queue.get()) is not None:
            data, read_at = item
            try:
                await self._through(list(self.chain), 0, data, read_at)
            except (ConnectionError, OSError):
                self.connection.close()
            finally:
                self.pending -= 1
        for toxic in list(self.chain):
            state = self.states.get(toxic)
            if state is not None and state.active:
                await toxic.on_eof(state)
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
        self.destination.write(data)
        await self.destination.drain()


class Connection(LinkControl):
    def __init__(
        self,
        proxy: Proxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.client_writer, self.server_writer = client[1], server[1]
        self.links = {
            "upstream": Link(self, "upstream", client[0], server[1]),
            "downstream": Link(self, "downstream", server[0], client[1]),
        }
        self.ended: set[str] = set()
        self.closed = False

    async def run(self) -> None:
        for direction, link in self.links.items():
            for toxic in self.proxy.chains[direction]:
                link.attach(toxic)
        try:
            await asyncio.gather(*(link.run() for link in self.links.values()))
        finally:
            self.close()

    def half_close(self, link: Link) -> None:
        """One direction ended: pass the half-close on; the connection ends with both."""
        self.ended.add(link.direction)
        if len(self.ended) == 2:
            self.close()
            return
        with contextlib.suppress(OSError, RuntimeError):
            if link.destination.can_write_eof():
                link.destination.write_eof()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client_writer, self.server_writer):
            writer.close()
        self.proxy.forget(self)

    def reset(self) -> None:
        for writer in (self.client_writer, self.server_writer):
            sock = writer.get_extra_info("socket")
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

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        # Omitted, Toxiproxy listens on every interface; here only on loopback unless asked.
        host, port = split_host_port(normalize_listen(self.listen or "127.0.0.1:0"))
        try:
            self._server = await asyncio.start_server(self._accept, host or None, port, reuse_address=True)
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
        for connection in list(self.connections):
            connection.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = split_host_port(self.upstream)
        try:
            server = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (OSError, TimeoutError, ProxyError):
            # As Toxiproxy: the client sees its connection closed without data.
            self.stats.refused_upstream += 1
            writer.close()
            return
        if not self.enabled:  # disabled while we were dialling: this connection never existed
            server[1].close()
            writer.close()
            return
        for sock_writer in (writer, server[1]):
            sock = sock_writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(self, (reader, writer), server)
        self.connections.add(connection)
        self.stats.connections_total += 1
        self.stats.connections_active += 1
        await connection.run()

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
