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


# The JSON fields Toxiproxy decodes into Go structs, with their Go types: a value of another JSON
# type is refused by Go's decoder (null is always accepted and leaves the field as it was).
PROXY_FIELDS = {"name": "string", "listen": "string", "upstream": "string", "enabled": "bool"}
TOXIC_FIELDS = {"name": "string", "type": "string", "stream": "string", "toxicity": "float32"}
TOXIC_UPDATE_FIELDS = {"toxicity": "float32"}  # name, type and stream are not decoded on update
_JSON_TYPE_OF_GO_TYPE = {"string": "string", "bool": "bool", "float32": "number"}
# The anonymous structs Toxiproxy decodes /populate entries and toxic updates into, as Go names them.
_POPULATE_ENTRY = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
_TOXIC_UPDATE = (
    'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }'
)


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, named as Go's decoder names it in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def decoded(spec: Any, struct: str, fields: dict[str, str], go_value: str) -> dict[str, Any]:
    """The object as Go's decoder takes it into a struct: null sets nothing; anything but an
    object, or a field (the first, in the body's order) whose JSON type does not fit its Go type,
    is refused with Go's message."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ApiError(
            f"bad request body: json: cannot unmarshal {json_type(spec)} into Go value of type {go_value}",
            400,
        )
    for field, value in spec.items():
        go_type = fields.get(field)
        if go_type is not None and value is not None and json_type(value) != _JSON_TYPE_OF_GO_TYPE[go_type]:
            raise ApiError(
                f"bad request body: json: cannot unmarshal {json_type(value)} into Go struct field "
                f"{struct}.{field} of type {go_type}",
                400,
            )
    return spec


def _required(spec: dict[str, Any], field: str, where: str = "") -> str:
    value: str | None = spec.get(field)
    if not value:
        raise ApiError(f"missing required field: {field}{where}", 400)
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

    async def create(self, body: Any) -> Proxy:
        spec = decoded(body, "Proxy", PROXY_FIELDS, "toxiproxy.Proxy")
        name, upstream = _required(spec, "name"), _required(spec, "upstream")
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = await self._start(name, spec.get("listen") or "", upstream, spec.get("enabled") is not False)
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

    async def update(self, name: str, body: Any) -> Proxy:
        proxy = self.proxy(name)
        spec = decoded(body, "Proxy", PROXY_FIELDS, "toxiproxy.Proxy")
        listen = spec.get("listen") or proxy.listen
        upstream = spec.get("upstream") or proxy.upstream
        enabled = proxy.enabled if spec.get("enabled") is None else spec["enabled"]
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

    async def populate(self, body: Any) -> tuple[list[Proxy], ApiError | None]:
        """Toxiproxy's /populate: validate everything first, then create or replace in order;
        stop at the first failure, keeping what was done. Beyond Toxiproxy: `toxics` are honoured."""
        if not isinstance(body, list | None):
            raise ApiError(
                f"bad request body: json: cannot unmarshal {json_type(body)} into Go value of type "
                f"[]{_POPULATE_ENTRY}",
                400,
            )
        # Go decodes the whole array (refusing any wrong type) before it checks required fields.
        specs = [decoded(spec, "", PROXY_FIELDS, _POPULATE_ENTRY) for spec in body or []]
        for index, spec in enumerate(specs, start=1):
            for required in ("name", "upstream"):
                _required(spec, required, f" at proxy {index}")
            self._check_populated_toxics(spec.get("toxics"))
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

    def _check_populated_toxics(self, toxics: Any) -> None:
        """golive's `toxics` in /populate: checked before anything is created, names included
        (the proxy they go to is new, so only a name given twice can clash)."""
        if toxics is None:
            return
        if not isinstance(toxics, list):
            raise ApiError("bad request body: toxics must be an array of toxics", 400)
        names: set[str] = set()
        for toxic in toxics:
            spec = decoded(toxic, "ToxicWrapper", TOXIC_FIELDS, "toxics.ToxicWrapper")
            kind, stream, *_ = self._check_toxic(spec)
            name = spec.get("name") or f"{kind.kind}_{stream}"
            if name in names:
                raise ApiError("toxic already exists", 409)
            names.add(name)

    def _check_toxic(self, spec: dict[str, Any]) -> tuple[type[Toxic], str, str, float, str]:
        stream = spec.get("stream", "downstream")
        stream = "downstream" if stream is None else stream
        direction = parse_stream(stream)
        kind = TOXIC_TYPES.get(spec.get("type") or "")
        if kind is None:
            raise ApiError("invalid toxic type", 400)
        toxicity = spec.get("toxicity", 1.0)
        toxicity = 1.0 if toxicity is None else toxicity
        if not 0 <= toxicity <= 1:
            raise ApiError("bad request body: toxicity must be a number from 0 to 1", 400)
        return kind, stream, direction, float(toxicity), _scope(spec.get("toxicity_scope"))

    def add_toxic(self, proxy_name: str, body: Any) -> Toxic:
        proxy = self.proxy(proxy_name)
        spec = decoded(body, "ToxicWrapper", TOXIC_FIELDS, "toxics.ToxicWrapper")
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

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        toxic = self.toxic(proxy_name, toxic_name)
        spec = decoded(body, "", TOXIC_UPDATE_FIELDS, _TOXIC_UPDATE)
        toxicity = spec.get("toxicity")
        if toxicity is not None and not 0 <= toxicity <= 1:
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
