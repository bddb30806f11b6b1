"""A Pusher outage, watched from a subscriber: while the backend cannot reach Pusher, content jobs
complete and the pusher breaker opens; once Pusher is back, the breaker closes and the
subscriber receives the next jobs' events again."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.client import PusherSocket
from golive.fixtures.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.chaos

OPEN_SECONDS = 1


async def generate(client: httpx.AsyncClient, token: str, prompt: str) -> str:
    response = await client.post(
        "/api/v1/content/generate", json={"prompt": prompt}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


async def breaker_state(client: httpx.AsyncClient) -> str:
    state: str = (await client.get("/circuit-breakers/pusher/status")).json()["data"]["state"]
    return state


async def completion_of(socket: PusherSocket, job_id: str, within: float) -> bool:
    """Whether the job's content_completed arrives within the time (other events pass by)."""
    try:
        async with asyncio.timeout(within):
            while True:
                message = await socket.next(within)
                if message["event"] == "content_completed" and message["data"]["job_id"] == job_id:
                    return True
    except TimeoutError:
        return False


async def test_jobs_complete_through_a_pusher_outage_and_events_resume(
    golive_start_backend: BackendFactory,
    golive_toxiproxy: ToxiproxyClient,
    golive_user_token: str,
    golive_pusher_credentials: PusherCredentials,
) -> None:
    backend = golive_start_backend(
        {
            "CIRCUIT_BREAKER_FAILURE_THRESHOLD": "2",
            "CIRCUIT_BREAKER_TIMEOUT_SECONDS": str(OPEN_SECONDS),
            "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS": "1",  # one delivered batch closes it
            "PUSHER_TIMEOUT_SECONDS": "0.5",
        }
    )
    async with (
        http_clients.AsyncClient(base_url=backend.urls[0], timeout=30) as client,
        await PusherSocket.connect(golive_pusher_credentials) as socket,
    ):
        await socket.subscribe("content-generation")
        assert await completion_of(socket, await generate(client, golive_user_token, "before"), within=10)

        golive_toxiproxy.set_enabled("pusher", False)
        during = [await generate(client, golive_user_token, f"outage {n}") for n in range(4)]
        async with asyncio.timeout(10):
            while True:
                if await breaker_state(client) == "OPEN":
                    break
                await asyncio.sleep(0.05)  # polling the breaker: it announces nothing
        status = (await client.get("/pusher/status")).json()["data"]
        assert status["publisher"]["failed"] >= 2
        rows = [
            (
                await client.get(
                    f"/api/v1/content/{job}", headers={"Authorization": f"Bearer {golive_user_token}"}
                )
            )
            for job in during
        ]
        assert all(row.json()["data"]["status"] == "completed" for row in rows)

        golive_toxiproxy.set_enabled("pusher", True)
        # The first jobs after the outage may still meet the open breaker (their events are
        # dropped); within a few open periods, one is the half-open trial and gets through.
        deadline = time.monotonic() + 10 * OPEN_SECONDS + 10
        delivered = False
        while not delivered and time.monotonic() < deadline:
            delivered = await completion_of(
                socket, await generate(client, golive_user_token, "after"), within=2
            )
        assert delivered, "no job's events arrived after Pusher came back"
        assert await breaker_state(client) == "CLOSED"
