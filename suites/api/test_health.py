"""/health answers while the process can serve and reports each dependency; /metrics is scrapeable."""

from __future__ import annotations

import httpx
import pytest

from golive.fixtures.plugin import BackendFactory


@pytest.mark.external_ok
def test_health_reports_every_dependency_up(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["status"] == "healthy"
    assert set(data["dependencies"]) == {"database", "redis", "upstream"}
    assert all(item["status"] == "up" for item in data["dependencies"].values())


def test_every_replica_is_healthy(stack_description: object) -> None:
    from golive.fixtures.description import StackDescription

    assert isinstance(stack_description, StackDescription)
    assert stack_description.sut_replicas
    for url in stack_description.sut_replicas:
        assert httpx.get(f"{url}/health", timeout=30).json()["data"]["status"] == "healthy"


@pytest.mark.parametrize("dependency", ["DATABASE_URL", "REDIS_URL", "AI_SERVICE_URL"])
def test_a_dependency_down_is_reported_not_a_crash(
    start_backend: BackendFactory, unused_port: int, dependency: str
) -> None:
    dead = {
        "DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:{unused_port}/none",
        "REDIS_URL": f"redis://127.0.0.1:{unused_port}/0",
        "AI_SERVICE_URL": f"http://127.0.0.1:{unused_port}",
    }[dependency]
    backend = start_backend({dependency: dead})
    response = httpx.get(f"{backend.urls[0]}/health", timeout=30)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "degraded"
    name = {"DATABASE_URL": "database", "REDIS_URL": "redis", "AI_SERVICE_URL": "upstream"}[dependency]
    assert data["dependencies"][name]["status"] == "down"
    assert data["dependencies"][name]["error"]
    assert all(item["status"] == "up" for key, item in data["dependencies"].items() if key != name)
    # Nothing about where the dependency lives or how to log in to it.
    assert str(unused_port) not in response.text
    assert "secret" not in response.text


def test_database_down_answers_503_envelope(start_backend: BackendFactory, unused_port: int) -> None:
    backend = start_backend({"DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:{unused_port}/none"})
    response = httpx.post(
        f"{backend.urls[0]}/api/v1/auth/token",
        json={"username": "someone", "password": "whatever"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["metadata"]["error_code"] == "DEPENDENCY_UNAVAILABLE"
    assert "secret" not in response.text


@pytest.mark.external_ok
def test_metrics_are_prometheus_text(http: httpx.Client) -> None:
    http.get("/health")
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in response.text
    assert "http_request_duration_seconds_bucket" in response.text


def test_unknown_paths_share_one_metrics_label(http: httpx.Client) -> None:
    for index in range(5):
        http.get(f"/no-such-path-{index}")
    text = http.get("/metrics").text
    assert 'route="unmatched"' in text
    assert "no-such-path" not in text


def test_metrics_can_be_turned_off(start_backend: BackendFactory) -> None:
    backend = start_backend({"METRICS_ENABLED": "false"})
    response = httpx.get(f"{backend.urls[0]}/metrics", timeout=30)
    assert response.status_code == 404
