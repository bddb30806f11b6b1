"""The proxies and their toxics, with Toxiproxy's rules for creating, changing and removing them.

Everything the HTTP API does goes through here; errors carry Toxiproxy's messages and statuses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from golive.chaos.toxiproxy.proxy import DIRECTIONS, Proxy, ProxyError, normalize_listen, split_host_port
from golive.chaos.toxiproxy.toxics import TOXIC_TYPES, InvalidAttributes, Toxic, build_toxic

VERSION = "2.12.0"


@dataclass
class ApiError(Exception):
    message: str
    status: int


def parse_stream(value: Any) -> str:
    if isinstance(value, str) and value.lower() in DIRECTIONS:
        return value.lower()
    raise ApiError("stream was invalid, can be either upstream or downstream", 400)


def _text(value: Any, field: str) -> str:
    if value is None or value == "":
        raise ApiError(f"missing required field: {field}", 400)
    if not isinstance(value, str):
        raise ApiError(
            f"bad request body: json: cannot unmarshal {type(value).__name__} into field {field}", 400
        )
    return value


class ToxiproxyServer:
    def __init__(self, seed: int | None = None) -> None:
        # One generator for every random decision (toxicity, jitter, slicing): with a seed, a run
        # is reproducible (Toxiproxy's -seed flag is a no-op, issue #274).
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self.proxies: dict[str, Proxy] = {}

    def proxy(self, name: str) -> Proxy:
        if name not in self.proxies:
            raise ApiError("proxy not found", 404)
        return self.proxies[name]

    async def create(self, spec: Any) -> Proxy:
        if not isinstance(spec, dict):
            raise ApiError("bad request body: json: cannot unmarshal into proxy", 400)
        name = _text(spec.get("name"), "name")
        upstream = _text(spec.get("upstream"), "upstream")
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = await self._start(
            name, spec.get("listen") or "", upstream, spec.get("enabled", True) is not False
        )
        self.proxies[name] = proxy
        return proxy

    async def _start(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        proxy = Proxy(name, listen, upstream, enabled=False, rng=self.rng)
        if enabled:
            try:
                split_host_port(upstream)
                await proxy.start()
            except ProxyError as error:
                raise ApiError(str(error), 500) from None
        return proxy

    async def update(self, name: str, spec: Any) -> Proxy:
        proxy = self.proxy(name)
        if not isinstance(spec, dict):
            raise ApiError("bad request body: json: cannot unmarshal into proxy", 400)
        listen = spec.get("listen") or proxy.listen
        upstream = spec.get("upstream") or proxy.upstream
        enabled = spec.get("enabled", proxy.enabled) is not False
        try:
            if _differs(proxy, listen, upstream):
                await proxy.stop()  # closes every connection, keeps the toxics
                proxy.listen, proxy.upstream = listen, upstream
            if enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
        except ProxyError as error:
            raise ApiError(str(error), 500) from None
        return proxy

    async def delete(self, name: str) -> None:
        await self.proxy(name).stop()
        del self.proxies[name]

    async def populate(self, specs: Any) -> tuple[list[Proxy], ApiError | None]:
        """Toxiproxy's /populate: validate everything first, then create or replace in order;
        stop at the first failure, keeping what was done. Beyond Toxiproxy: `toxics` are honoured."""
        if not isinstance(specs, list):
            raise ApiError(
                "bad request body: json: cannot unmarshal object into Go value of type []proxy.Proxy", 400
            )
        for index, spec in enumerate(specs, start=1):
            if not isinstance(spec, dict):
                raise ApiError(f"bad request body: proxy {index} is not an object", 400)
            for required in ("name", "upstream"):
                if not spec.get(required):
                    raise ApiError(f"missing required field: {required} at proxy {index}", 400)
            for toxic in spec.get("toxics") or []:
                self._check_toxic(toxic)
        done: list[Proxy] = []
        for spec in specs:
            name, listen, upstream = spec["name"], spec.get("listen") or "", spec["upstream"]
            existing = self.proxies.get(name)
            try:
                if existing is not None and not _differs(existing, listen, upstream):
                    done.append(existing)  # kept as it is, toxics and all
                    continue
                if existing is not None:
                    await self.delete(name)
                proxy = await self._start(name, listen, upstream, spec.get("enabled", True) is not False)
            except ApiError as error:
                return done, error
            self.proxies[name] = proxy
            for toxic in spec.get("toxics") or []:
                self.add_toxic(name, toxic)
            done.append(proxy)
        return done, None

    async def reset(self) -> None:
        """Re-enables every proxy and removes every toxic."""
        for proxy in self.proxies.values():
            try:
                await proxy.start()
            except ProxyError as error:
                raise ApiError(str(error), 500) from None
            proxy.remove_all_toxics()

    # --- toxics --------------------------------------------------------------------------------

    def _check_toxic(self, spec: Any) -> tuple[type[Toxic], str, str, float, str]:
        if not isinstance(spec, dict):
            raise ApiError("bad request body: json: cannot unmarshal into toxic", 400)
        stream = spec.get("stream", "downstream")
        stream = "downstream" if stream is None else stream
        direction = parse_stream(stream)
        kind = TOXIC_TYPES.get(spec.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise ApiError("invalid toxic type", 400)
        toxicity = spec.get("toxicity", 1.0)
        toxicity = 1.0 if toxicity is None else toxicity
        if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not 0 <= toxicity <= 1:
            raise ApiError("bad request body: toxicity must be a number from 0 to 1", 400)
        return kind, stream, direction, float(toxicity), _scope(spec.get("toxicity_scope"))

    def add_toxic(self, proxy_name: str, spec: Any) -> Toxic:
        proxy = self.proxy(proxy_name)
        kind, stream, direction, toxicity, scope = self._check_toxic(spec)
        name = spec.get("name") or f"{kind.kind}_{stream}"
        if proxy.find_toxic(name) is not None:
            raise ApiError("toxic already exists", 409)
        try:
            toxic = build_toxic(kind, name, stream, toxicity, spec.get("attributes"), self.rng, scope)
        except InvalidAttributes as error:
            raise ApiError(f"bad request body: {error}", 400) from None
        proxy.add_toxic(direction, toxic)
        return toxic

    def toxic(self, proxy_name: str, toxic_name: str) -> Toxic:
        toxic = self.proxy(proxy_name).find_toxic(toxic_name)
        if toxic is None:
            raise ApiError("toxic not found", 404)
        return toxic

    def update_toxic(self, proxy_name: str, toxic_name: str, spec: Any) -> Toxic:
        toxic = self.toxic(proxy_name, toxic_name)
        if not isinstance(spec, dict):
            raise ApiError("bad request body: json: cannot unmarshal into toxic", 400)
        toxicity = spec.get("toxicity")
        if toxicity is not None and (
            isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not 0 <= toxicity <= 1
        ):
            raise ApiError("bad request body: toxicity must be a number from 0 to 1", 400)
        if spec.get("toxicity_scope") is not None:
            toxic.scope = _scope(spec["toxicity_scope"])
        try:
            toxic.update(spec.get("attributes"), float(toxicity) if toxicity is not None else None)
        except InvalidAttributes as error:
            raise ApiError(f"bad request body: {error}", 400) from None
        self.proxy(proxy_name).reroll(toxic)
        return toxic

    def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        self.proxy(proxy_name).remove_toxic(self.toxic(proxy_name, toxic_name))


def _scope(value: Any) -> str:
    if value is None:
        return "connection"
    if value not in ("connection", "chunk"):
        raise ApiError("bad request body: toxicity_scope is either connection or chunk", 400)
    return str(value)


def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
    try:
        moved = normalize_listen(listen) != normalize_listen(proxy.listen)
    except ProxyError:
        moved = listen != proxy.listen
    return moved or upstream != proxy.upstream
