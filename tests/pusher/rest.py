"""Raw, hand-signed HTTP API requests: for what the official SDK will not send (the `channel` form,
too many channels, stale timestamps, tampered bodies) and for checking exact statuses and bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx

from golive.core import http_clients
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.api import sign_request


class SignedApi:
    def __init__(self, credentials: PusherCredentials) -> None:
        self.credentials = credentials
        self.http = http_clients.Client(base_url=f"http://{credentials.host}:{credentials.port}", timeout=10)

    @property
    def prefix(self) -> str:
        return f"/apps/{self.credentials.app_id}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        query: dict[str, str] | None = None,
        *,
        signed_body: bytes | None = None,
        timestamp: int | None = None,
        key: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """`signed_body`: the body the signature covers, when it is not the one sent."""
        params = sign_request(
            key or self.credentials.key,
            secret or self.credentials.secret,
            method,
            path,
            body if signed_body is None else signed_body,
            query,
            timestamp,
        )
        headers = {"Content-Type": "application/json"} if body else {}
        return self.http.request(method, path, params=params, content=body, headers=headers)

    def post(self, path: str, payload: Any, **options: Any) -> httpx.Response:
        return self.request("POST", path, json.dumps(payload).encode(), **options)

    def get(self, path: str, query: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        return self.request("GET", path, query=query, **options)

    def events(self, payload: Any) -> httpx.Response:
        return self.post(f"{self.prefix}/events", payload)

    def batch(self, items: list[Any]) -> httpx.Response:
        return self.post(f"{self.prefix}/batch_events", {"batch": items})

    def close(self) -> None:
        self.http.close()


def json_error(response: httpx.Response, status: int) -> str:
    """Asserts an error response: the status, a JSON body `{"error", "code"}`; its message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert body.get("code") == status, body
    assert isinstance(body.get("error"), str), body
    assert body["error"], body
    message: str = body["error"]
    return message
