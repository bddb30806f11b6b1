"""The backend's side of Pusher Channels, through the official SDK: publishing (over httpx, so it
is async and its failures are classified for the circuit breaker), and the signatures the
auth endpoints and webhooks need (local computations, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pusher
from pusher.http import Request as PusherRequest
from pusher.http import process_response

from .. import tls
from ..settings import Settings
from .events import Event


class PusherUnavailable(Exception):
    """Pusher answered, but not well: 5xx or 429 (a failure of the service, not of our request)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Pusher answered {status}: {body[:200]}")
        self.status = status


def is_pusher_failure(error: Exception) -> bool:
    return isinstance(error, httpx.TransportError | PusherUnavailable)


class HttpxBackend:
    """The SDK's backend interface (`send_request`), on a shared httpx client."""

    def __init__(self, client: Any, http: httpx.AsyncClient) -> None:
        self.client = client
        self.http = http

    async def send_request(self, request: PusherRequest) -> Any:
        response = await self.http.request(
            request.method,
            f"{request.base_url}{request.path}",
            params=request.query_params,
            content=request.body,
            headers=request.headers,
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise PusherUnavailable(response.status_code, response.text)
        # 4xx: the SDK's own errors (PusherBadRequest, PusherBadAuth, ...): our fault, not Pusher's.
        return process_response(response.status_code, response.text)


class PusherGateway:
    def __init__(self, settings: Settings) -> None:
        timeout = settings.pusher_timeout_seconds
        self.http = httpx.AsyncClient(
            verify=tls.CONTEXT,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        master_key = settings.pusher_encryption_master_key_base64
        self.sdk = pusher.Pusher(
            app_id=settings.pusher_app_id,
            key=settings.pusher_key,
            secret=settings.pusher_secret.get_secret_value(),
            cluster=settings.pusher_cluster,
            host=settings.pusher_host,
            port=settings.pusher_port,
            ssl=settings.pusher_ssl,
            timeout=timeout,
            encryption_master_key_base64=master_key.get_secret_value() if master_key else None,
            backend=HttpxBackend,
            http=self.http,
        )
        self.encrypted_channels = master_key is not None

    @property
    def api_host(self) -> str:
        client = self.sdk._pusher_client  # the SDK exposes host and port only there
        return f"{client.host}:{client.port}"

    async def send(self, events: Sequence[Event]) -> None:
        await self.sdk.trigger_batch(
            [{"channel": event.channel, "name": event.name, "data": event.data} for event in events]
        )

    async def trigger(self, channels: list[str], name: str, data: Any, socket_id: str | None = None) -> None:
        await self.sdk.trigger(channels, name, data, socket_id)

    def authorize_channel(
        self, channel: str, socket_id: str, member: dict[str, Any] | None
    ) -> dict[str, str]:
        auth: dict[str, Any] = self.sdk.authenticate(channel, socket_id, member)
        if isinstance(auth.get("shared_secret"), bytes):
            # The SDK (3.3.4) returns the encrypted channel's key as bytes: not JSON-serialisable.
            auth["shared_secret"] = auth["shared_secret"].decode()
        return auth

    def authorize_user(self, socket_id: str, user_data: dict[str, Any]) -> dict[str, str]:
        auth: dict[str, str] = self.sdk.authenticate_user(socket_id, user_data)
        return auth

    def verify_webhook(self, key: str | None, signature: str | None, body: bytes) -> dict[str, Any] | None:
        """The webhook's parsed body, or None unless the key, the signature and the time (within
        5 minutes) all check out."""
        if not key or not signature:
            return None
        try:
            verified: dict[str, Any] | None = self.sdk.validate_webhook(key, signature, body.decode())
        except (ValueError, TypeError, AttributeError):  # not UTF-8, not a JSON object, ...
            return None
        return verified

    async def aclose(self) -> None:
        await self.http.aclose()
