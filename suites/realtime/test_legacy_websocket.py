"""PUSHER_ENABLED=false, the guide's partial rollback: content events reach `/ws/content` clients
on every replica, whichever replica ran the job; the Pusher endpoints say Pusher is off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.sut import SutCluster

T = TypeVar("T")


def websocket_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/ws/content"


@pytest.fixture
def legacy_backend(golive_start_backend: BackendFactory) -> SutCluster:
    return golive_start_backend({"PUSHER_ENABLED": "false"}, replicas=2)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with http_clients.AsyncClient(timeout=30) as http:
        yield http


async def next_event(socket: ClientConnection, job_id: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await socket.recv())
        if message["data"].get("job_id") == job_id:
            return message


async def test_events_of_a_job_on_one_replica_reach_a_socket_on_another(
    legacy_backend: SutCluster, client: httpx.AsyncClient, golive_user_token: str
) -> None:
    runs_the_job, serves_the_socket = legacy_backend.urls
    async with connect(websocket_url(serves_the_socket), open_timeout=10) as socket:
        await _wait_until_listening(client, serves_the_socket)
        response = await client.post(
            f"{runs_the_job}/api/v1/content/generate",
            json={"prompt": "legacy"},
            headers={"Authorization": f"Bearer {golive_user_token}"},
        )
        assert response.status_code == 201, response.text
        job_id = response.json()["data"]["id"]
        progress = []
        while True:
            message = await _within(next_event(socket, job_id))
            assert message["channel"] == "content-generation"
            if message["event"] == "content_completed":
                assert message["data"]["status"] == "completed"
                break
            assert message["event"] == "content_progress"
            # No Pusher double encoding on the legacy socket: data is an object.
            progress.append(message["data"]["progress"])
    assert progress == [0, 10, 90, 100]


async def test_pusher_endpoints_answer_that_pusher_is_off(
    legacy_backend: SutCluster, client: httpx.AsyncClient, golive_user_token: str
) -> None:
    base = legacy_backend.urls[0]
    response = await client.post(
        f"{base}/pusher/auth",
        data={"socket_id": "1.2", "channel_name": "private-user-1"},
        headers={"Authorization": f"Bearer {golive_user_token}"},
    )
    assert response.status_code == 503
    assert "/ws/content" in response.json()["message"]
    status = (await client.get(f"{base}/pusher/status")).json()["data"]
    assert (status["enabled"], status["mode"], status["webhooks"]) == (False, "websocket", None)
    assert status["legacy_websocket"]["clients"] == 0


async def test_with_pusher_on_the_legacy_socket_is_closed_with_a_pointer_to_pusher(
    golive_sut_url: str,
) -> None:
    async with connect(websocket_url(golive_sut_url), open_timeout=10) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await _within(socket.recv())
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4410
    assert "Pusher" in closed.value.rcvd.reason


async def _wait_until_listening(client: httpx.AsyncClient, base: str) -> None:
    """Until the replica counts the socket and listens to the other replicas' events: only then
    can the socket miss nothing."""

    async def ready() -> bool:
        legacy = (await client.get(f"{base}/pusher/status")).json()["data"]["legacy_websocket"]
        return bool(legacy["listening"] and legacy["clients"] >= 1)

    async with asyncio.timeout(10):
        while True:
            if await ready():
                return
            await asyncio.sleep(0.02)  # polling: the replica announces neither


async def _within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, 10)
