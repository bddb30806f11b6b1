"""CORS from the CORS_* settings: allowed origins get credentials, others get nothing."""

from __future__ import annotations

import httpx
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory

ALLOWED = "http://localhost:3000"  # the guide's default CORS_ALLOWED_ORIGINS


def preflight(http: httpx.Client, origin: str, method: str = "POST") -> httpx.Response:
    return http.options(
        "/api/v1/auth/token",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Authorization, Content-Type, X-Request-ID",
        },
    )


def granted_headers(response: httpx.Response) -> list[str]:
    return sorted(name for name in response.headers if name.lower().startswith("access-control-"))


def test_allowed_origin_preflight_gets_credentials(golive_http: httpx.Client) -> None:
    response = preflight(golive_http, ALLOWED)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "x-request-id" in allowed_headers


def test_allowed_origin_can_read_the_request_id(golive_http: httpx.Client) -> None:
    response = golive_http.get("/health", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost:3001", "null", "http://localhost"]
)
def test_other_origins_get_no_cors_grant(golive_http: httpx.Client, origin: str) -> None:
    refused = preflight(golive_http, origin)
    assert refused.status_code == 400
    assert granted_headers(refused) == []
    simple = golive_http.get("/health", headers={"Origin": origin})
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-credentials" not in simple.headers


def test_methods_outside_the_setting_are_refused(golive_http: httpx.Client) -> None:
    refused = preflight(golive_http, ALLOWED, method="PATCH")
    assert refused.status_code == 400
    assert granted_headers(refused) == []


def test_origins_come_from_the_setting(golive_start_backend: BackendFactory) -> None:
    backend = golive_start_backend(
        {"CORS_ALLOWED_ORIGINS": '["https://app.example"]', "CORS_ALLOW_CREDENTIALS": "false"}
    )
    with http_clients.Client(base_url=backend.urls[0], timeout=30) as client:
        granted = preflight(client, "https://app.example")
        assert granted.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in granted.headers
        assert preflight(client, ALLOWED).status_code == 400
