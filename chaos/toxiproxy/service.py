"""The proxy server as a service of the stack (its own process), and the harness's client of
Toxiproxy's API (works the same against this server or a real Toxiproxy)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from golive.fixtures.http_service import HttpService
from golive.fixtures.network import LOOPBACK


class ToxiproxyClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=30, headers={"User-Agent": "golive"})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise ToxiproxyError(f"{method} {path}: {response.status_code} {response.text.strip()}")
        return response.json() if response.content else None

    def version(self) -> str:
        version: str = self._call("GET", "/version")["version"]
        return version

    def proxies(self) -> dict[str, Any]:
        proxies: dict[str, Any] = self._call("GET", "/proxies")
        return proxies

    def create(self, name: str, upstream: str, listen: str = f"{LOOPBACK}:0") -> dict[str, Any]:
        proxy: dict[str, Any] = self._call(
            "POST", "/proxies", {"name": name, "upstream": upstream, "listen": listen}
        )
        return proxy

    def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = self._call("POST", "/populate", proxies)["proxies"]
        return created

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def add_toxic(
        self,
        proxy: str,
        kind: str,
        attributes: dict[str, Any] | None = None,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        toxicity_scope: str = "connection",
    ) -> dict[str, Any]:
        body = {"type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes or {}}
        if name:
            body["name"] = name
        if toxicity_scope != "connection":
            body["toxicity_scope"] = toxicity_scope  # golive's extension
        toxic: dict[str, Any] = self._call("POST", f"/proxies/{proxy}/toxics", body)
        return toxic

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        self._call("POST", "/reset")

    @contextmanager
    def toxic(
        self, proxy: str, kind: str, attributes: dict[str, Any] | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        """A toxic for the duration of a block, removed however the block ends."""
        toxic = self.add_toxic(proxy, kind, attributes, **options)
        try:
            yield toxic
        finally:
            self.remove_toxic(proxy, toxic["name"])

    @contextmanager
    def down(self, proxy: str) -> Iterator[None]:
        self.set_enabled(proxy, False)
        try:
            yield
        finally:
            self.set_enabled(proxy, True)

    def close(self) -> None:
        self._http.close()


class ToxiproxyError(RuntimeError):
    pass


class ToxiproxyService(HttpService):
    def __init__(self, log_dir: Path, seed: int | None = None) -> None:
        argv = [sys.executable, "-m", "golive.chaos.toxiproxy", "--fd", "{fd}"]
        argv += ["--seed", str(seed)] if seed is not None else []
        super().__init__("toxiproxy", argv, log_path=log_dir / "toxiproxy.log", ready_path="/version")

    def start(self, timeout: float = 30.0) -> ToxiproxyService:
        super().start(timeout)
        return self

    def client(self) -> ToxiproxyClient:
        return ToxiproxyClient(self.url)
