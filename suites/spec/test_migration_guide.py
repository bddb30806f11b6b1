"""The migration guide's "Automated Test Suite" (tests/migration/test_migration.py), as written
there, pointed at the stack under test instead of localhost:8009."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.external_ok


def test_health_endpoint(golive_sut_url: str) -> None:
    response = requests.get(f"{golive_sut_url}/health", timeout=30)
    assert response.status_code == 200
    assert response.json()["status"] == "success"


def test_pusher_auth(golive_sut_url: str) -> None:
    response = requests.post(f"{golive_sut_url}/pusher/auth", timeout=30)
    assert response.status_code in [200, 401]  # Should not error


def test_circuit_breaker_status(golive_sut_url: str) -> None:
    response = requests.get(f"{golive_sut_url}/circuit-breakers/status", timeout=30)
    assert response.status_code == 200


def test_rate_limit_functionality(golive_sut_url: str) -> None:
    # Make multiple requests to test rate limiting
    for _ in range(5):
        response = requests.get(f"{golive_sut_url}/health", timeout=30)
        assert response.status_code == 200
