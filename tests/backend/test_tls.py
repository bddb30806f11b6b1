"""The backend's outbound HTTPS clients verify the servers they call, all with one context."""

from __future__ import annotations

import ssl

import httpx
import pytest

from golive.system_under_test import tls
from golive.system_under_test.ai_service import AiServiceClient
from golive.system_under_test.realtime.pusher_gateway import PusherGateway
from golive.system_under_test.settings import Settings


def _context(client: httpx.AsyncClient) -> ssl.SSLContext:
    """The context a client verifies with: httpx keeps it on its connection pool."""
    transport = client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    context = transport._pool._ssl_context
    assert context is not None
    return context


def test_every_outbound_client_verifies_with_one_shared_context(environment: pytest.MonkeyPatch) -> None:
    assert tls.CONTEXT.verify_mode == ssl.CERT_REQUIRED
    assert tls.CONTEXT.check_hostname
    assert tls.CONTEXT.cert_store_stats()["x509_ca"] > 0  # a CA bundle was loaded
    ai_service = AiServiceClient("https://ai.example", timeout=1)
    pusher = PusherGateway(Settings())
    assert _context(ai_service._client) is tls.CONTEXT
    assert _context(pusher.http) is tls.CONTEXT
