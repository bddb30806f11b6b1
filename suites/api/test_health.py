"""/health answers while the process can serve and reports each dependency; /metrics is scrapeable."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from golive.core import http_clients
from golive.fixtures.clients import BackendFactory
from golive.fixtures.network import wait_until
from golive.fixtures.toxiproxy import ToxiproxyClient

# How soon /health must follow a dependency going down or coming back: the guide's probe timeout
# (a few seconds) and a margin, far below what a cached answer would last.
FOLLOW_SECONDS = 6.0


@pytest.mark.external_ok
def test_health_reports_every_dependency_up(golive_http: httpx.Client) -> None:
    response = golive_http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["status"] == "healthy"
    assert set(data["dependencies"]) == {"database", "redis", "upstream"}
    assert all(item["status"] == "up" for item in data["dependencies"].values())


@pytest.mark.external_ok
def test_head_health_answers_like_get_without_a_body(golive_http: httpx.Client) -> None:
    # Uptime monitors and load balancers probe with HEAD.
    got = golive_http.get("/health")
    response = golive_http.head("/health")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == got.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]


def test_post_to_health_still_lists_get_and_head_in_allow(golive_http: httpx.Client) -> None:
    response = golive_http.post("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_every_replica_is_healthy(golive_stack_description: object) -> None:
    from golive.fixtures.description import StackDescription

    assert isinstance(golive_stack_description, StackDescription)
    assert golive_stack_description.sut_replicas
    for url in golive_stack_description.sut_replicas:
        assert http_clients.get(f"{url}/health", timeout=30).json()["data"]["status"] == "healthy"


@pytest.mark.parametrize("dependency", ["DATABASE_URL", "REDIS_URL", "AI_SERVICE_URL"])
def test_a_dependency_down_is_reported_not_a_crash(
    golive_start_backend: BackendFactory, golive_unused_port: int, dependency: str
) -> None:
    dead = {
        "DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:{golive_unused_port}/none",
        "REDIS_URL": f"redis://127.0.0.1:{golive_unused_port}/0",
        "AI_SERVICE_URL": f"http://127.0.0.1:{golive_unused_port}",
    }[dependency]
    backend = golive_start_backend({dependency: dead})
    response = http_clients.get(f"{backend.urls[0]}/health", timeout=30)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "degraded"
    name = {"DATABASE_URL": "database", "REDIS_URL": "redis", "AI_SERVICE_URL": "upstream"}[dependency]
    assert data["dependencies"][name]["status"] == "down"
    assert data["dependencies"][name]["error"]
    assert all(item["status"] == "up" for key, item in data["dependencies"].items() if key != name)
    # Nothing about where the dependency lives or how to log in to it.
    assert str(golive_unused_port) not in response.text
    assert "secret" not in response.text


@pytest.mark.parametrize(
    ("proxy", "dependency"), [("postgres", "database"), ("redis", "redis"), ("upstream", "upstream")]
)
def test_health_follows_a_dependency_down_and_back_at_once(
    golive_http: httpx.Client, golive_toxiproxy: ToxiproxyClient, proxy: str, dependency: str
) -> None:
    """What /health says is what a probe finds now: a readiness probe that is told "up" for a while
    after a dependency went down keeps a broken replica in service (and one told "down" after it
    came back keeps a good one out)."""

    def reported() -> str:
        return str(golive_http.get("/health").json()["data"]["dependencies"][dependency]["status"])

    assert reported() == "up"
    golive_toxiproxy.set_enabled(proxy, False)
    # Within a probe's timeout and a little: not after a cached answer's lifetime.
    wait_until(lambda: reported() == "down" or None, timeout=FOLLOW_SECONDS, what=f"{dependency} down")
    golive_toxiproxy.set_enabled(proxy, True)
    wait_until(lambda: reported() == "up" or None, timeout=FOLLOW_SECONDS, what=f"{dependency} up again")


def test_database_down_answers_503_envelope(
    golive_start_backend: BackendFactory, golive_unused_port: int
) -> None:
    backend = golive_start_backend(
        {"DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:{golive_unused_port}/none"}
    )
    response = http_clients.post(
        f"{backend.urls[0]}/api/v1/auth/token",
        json={"username": "someone", "password": "whatever"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["metadata"]["error_code"] == "DEPENDENCY_UNAVAILABLE"
    assert "secret" not in response.text


@pytest.mark.external_ok
def test_metrics_are_prometheus_text(golive_http: httpx.Client) -> None:
    golive_http.get("/health")
    response = golive_http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in response.text
    assert "http_request_duration_seconds_bucket" in response.text


def test_unknown_paths_share_one_metrics_label(golive_http: httpx.Client) -> None:
    for index in range(5):
        golive_http.get(f"/no-such-path-{index}")
    text = golive_http.get("/metrics").text
    assert 'route="unmatched"' in text
    assert "no-such-path" not in text


def test_routes_with_ids_are_counted_under_their_template(
    golive_http: httpx.Client, golive_user_token: str
) -> None:
    """/metrics is public: an id in a path (a content id, a user's bucket) must not show in it, and
    each new id must not be a new time series (label cardinality grows with traffic)."""
    asked = [str(uuid.uuid4()) for _ in range(3)]
    headers = {"Authorization": f"Bearer {golive_user_token}"}
    for content_id in asked:
        golive_http.get(f"/api/v1/content/{content_id}", headers=headers)
    text = golive_http.get("/metrics").text
    assert [content_id for content_id in asked if content_id in text] == []
    assert re.search(r'route="[^"]*content[^"]*\{[^"]*\}', text), "not counted under a template"


def test_metrics_can_be_turned_off(golive_start_backend: BackendFactory) -> None:
    backend = golive_start_backend({"METRICS_ENABLED": "false"})
    response = http_clients.get(f"{backend.urls[0]}/metrics", timeout=30)
    assert response.status_code == 404
