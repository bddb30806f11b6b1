"""The Pusher emulator against any input: any HTTP request gets a clean answer, and any sequence
of WebSocket frames leaves the connection answering (or closed with a Pusher close code) and the
emulator serving new connections. Never a crash or a hung connection."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from golive.core import http_clients
from golive.fixtures.description import PusherCredentials
from tests.fuzzing import BODIES, JSON, METHODS, paths
from tests.pusher.client import open_socket

EVENTS = st.one_of(
    st.sampled_from(
        [
            "pusher:ping",
            "pusher:pong",
            "pusher:subscribe",
            "pusher:unsubscribe",
            "pusher:signin",
            "client-event",
        ]
    ),
    st.text(max_size=20),
)
FRAMES = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda event, data, channel: json.dumps({"event": event, "data": data, **channel}),
        EVENTS,
        JSON | JSON.map(json.dumps),
        st.just({}) | st.builds(lambda name: {"channel": name}, st.text(max_size=30)),
    ),
)
DEADLINE = 5.0


@pytest.fixture
def http(credentials: PusherCredentials) -> httpx.Client:
    return http_clients.Client(base_url=f"http://{credentials.host}:{credentials.port}", timeout=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=METHODS,
    path=paths(["apps", "events", "batch_events", "channels", "users", "terminate_connections", "app"]),
    body=BODIES,
)
def test_any_http_request_gets_a_clean_answer(
    http: httpx.Client, method: str, path: str, body: bytes
) -> None:
    response = http.request(method, path, content=body, params={"auth_key": "x", "auth_signature": "y"})
    assert response.status_code < 500, (method, path, body, response.text)


async def _exchange(credentials: PusherCredentials, frames: list[str]) -> None:
    async with open_socket(credentials) as socket:
        for frame in frames:
            await socket.send_raw(frame)
        try:
            await socket.send("pusher:ping", {})
            while (await socket.recv(DEADLINE)).get("event") != "pusher:pong":
                pass  # errors and acknowledgements of the frames above come first
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            assert code is not None
            assert 4000 <= code < 4300, f"closed with {code} after {frames}"
    async with open_socket(credentials) as fresh:
        await fresh.ping()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(FRAMES, min_size=1, max_size=6))
def test_any_frames_leave_the_connection_and_the_emulator_sane(
    credentials: PusherCredentials, frames: list[str]
) -> None:
    asyncio.run(asyncio.wait_for(_exchange(credentials, frames), 30))
