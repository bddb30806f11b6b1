"""One emulator for the whole suite (tests keep out of each other's way with channel and user names
of their own); tests that need other options start their own with `start_pusher`."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Protocol

import pusher
import pytest

from golive.fixtures.clients import sdk_for
from golive.fixtures.description import PusherCredentials
from golive.fixtures.pusher.service import PusherControl, PusherService
from tests.pusher.client import PUSHER_JS_QUERY, PusherSocket, open_socket
from tests.pusher.receiver import WebhookReceiver
from tests.pusher.rest import SignedApi

MASTER_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PusherService]:
    service = PusherService(tmp_path_factory.mktemp("pusher")).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def credentials(emulator: PusherService) -> PusherCredentials:
    return emulator.credentials


@pytest.fixture(scope="session")
def sdk(credentials: PusherCredentials) -> pusher.Pusher:
    return sdk_for(credentials)


@pytest.fixture(scope="session")
def encrypting_sdk(credentials: PusherCredentials) -> pusher.Pusher:
    """The SDK able to authorize and encrypt for private-encrypted- channels."""
    return sdk_for(credentials, encryption_master_key_base64=MASTER_KEY)


@pytest.fixture(scope="session")
def control(emulator: PusherService) -> Iterator[PusherControl]:
    client = emulator.client()
    yield client
    client.close()


@pytest.fixture
def api(credentials: PusherCredentials) -> Iterator[SignedApi]:
    client = SignedApi(credentials)
    yield client
    client.close()


@pytest.fixture
def uid() -> str:
    """A suffix no other test uses, for channel and user names on the shared emulator."""
    return secrets.token_hex(5)


class SocketFactory(Protocol):
    async def __call__(
        self, target: PusherCredentials | None = None, query: str | None = PUSHER_JS_QUERY
    ) -> PusherSocket: ...


@pytest.fixture
async def connect(credentials: PusherCredentials) -> AsyncIterator[SocketFactory]:
    """Opens established connections (to the shared emulator unless told otherwise), all closed
    after the test."""
    async with AsyncExitStack() as stack:

        async def open_connection(
            target: PusherCredentials | None = None, query: str | None = PUSHER_JS_QUERY
        ) -> PusherSocket:
            return await stack.enter_async_context(open_socket(target or credentials, query))

        yield open_connection


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()
