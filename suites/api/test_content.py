"""Content generation: the job is stored, the AI service is called, the outcome is kept and visible
to its owner only; every way the AI service can fail maps to its own envelope."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory, login
from golive.fixtures.description import Credentials, StackDescription
from golive.fixtures.operations import create_users
from golive.fixtures.stack import mint_token
from golive.fixtures.toxiproxy import ToxiproxyClient
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import bearer

PAGE = 50
ROUND_TRIP_MS = 25  # added to every answer from Postgres while pages are timed
MAX_EXTRA_ROUND_TRIPS = 10  # a page of PAGE against a page of 1: a query per item costs PAGE - 1


def generate(
    http: httpx.Client, token: str, prompt: str = "fractions for year 5", **extra: str
) -> httpx.Response:
    return http.post("/api/v1/content/generate", json={"prompt": prompt, **extra}, headers=bearer(token))


@pytest.mark.external_ok
def test_generation_is_stored_and_can_be_read_back(golive_http: httpx.Client, golive_user_token: str) -> None:
    created = generate(golive_http, golive_user_token, content_type="lesson")
    assert created.status_code == 201, created.text
    job = created.json()["data"]
    assert job["status"] == "completed"
    assert job["result"]
    assert job["content_type"] == "lesson"
    fetched = golive_http.get(f"/api/v1/content/{job['id']}", headers=bearer(golive_user_token))
    assert fetched.status_code == 200
    assert fetched.json()["data"] == job
    listed = golive_http.get("/api/v1/content", headers=bearer(golive_user_token)).json()["data"]
    assert job["id"] in [item["id"] for item in listed]


def test_the_request_id_reaches_the_ai_service(
    golive_http: httpx.Client, golive_user_token: str, golive_upstream: UpstreamControl
) -> None:
    request_id = f"trace-{uuid.uuid4().hex[:10]}"
    response = golive_http.post(
        "/api/v1/content/generate",
        json={"prompt": "photosynthesis"},
        headers={**bearer(golive_user_token), "X-Request-ID": request_id},
    )
    assert response.status_code == 201
    assert request_id in golive_upstream.stats().request_ids


def test_content_of_another_user_is_not_found(
    golive_http: httpx.Client,
    golive_user_token: str,
    new_user: Callable[..., tuple[Credentials, str]],
    golive_admin_token: str,
) -> None:
    job = generate(golive_http, golive_user_token).json()["data"]
    _, other_token = new_user()
    response = golive_http.get(f"/api/v1/content/{job['id']}", headers=bearer(other_token))
    assert response.status_code == 404
    assert response.json()["metadata"]["error_code"] == "NOT_FOUND"
    assert job["id"] not in [
        item["id"] for item in golive_http.get("/api/v1/content", headers=bearer(other_token)).json()["data"]
    ]
    # Admins may read anyone's.
    assert (
        golive_http.get(f"/api/v1/content/{job['id']}", headers=bearer(golive_admin_token)).status_code == 200
    )


@pytest.mark.parametrize(
    ("behaviour", "attempts"),
    [
        ({"script": [500]}, 1),
        ({"script": [503, 503, 503]}, 3),
        ({"script": [429, 429, 429]}, 3),
        ({"script": [400]}, 1),
        ({"script": [422]}, 1),
        ({"malformed": True}, 1),
    ],
    ids=["500", "503", "429", "400", "422", "malformed"],
)
def test_ai_service_failures_answer_502_and_the_job_is_kept_as_failed(
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_upstream: UpstreamControl,
    behaviour: dict[str, object],
    attempts: int,
) -> None:
    # RETRY_MAX_ATTEMPTS (3) for transient answers (429, 502-504); a 500, a 4xx or a malformed answer
    # is final.
    golive_upstream.program(**behaviour)
    response = generate(golive_http, golive_user_token)
    assert response.status_code == 502
    metadata = response.json()["metadata"]
    assert metadata["error_code"] == "UPSTREAM_ERROR"
    assert golive_upstream.stats().calls == attempts
    content_id = metadata["details"]["content_id"]
    job = golive_http.get(f"/api/v1/content/{content_id}", headers=bearer(golive_user_token)).json()["data"]
    assert job["status"] == "failed"
    assert job["error"]


def test_a_transient_failure_is_retried_with_one_idempotency_key(
    golive_http: httpx.Client, golive_user_token: str, golive_upstream: UpstreamControl
) -> None:
    golive_upstream.program(script=[503, 502])
    response = generate(golive_http, golive_user_token)
    assert response.status_code == 201
    stats = golive_upstream.stats()
    assert stats.calls == 3
    assert stats.generations == 1
    # Every attempt carried the same key (the job's id): had an answer been lost on the way, the
    # service would have replayed it instead of generating twice.
    assert stats.idempotency_keys == [response.json()["data"]["id"]] * 3


def test_ai_service_too_slow_answers_504(
    golive_start_backend: BackendFactory,
    golive_upstream: UpstreamControl,
    golive_user_credentials: Credentials,
) -> None:
    backend = golive_start_backend({"AI_SERVICE_TIMEOUT_SECONDS": "0.3"})
    token = login(backend.urls[0], golive_user_credentials)
    golive_upstream.program(latency_ms=3000)
    with http_clients.Client(base_url=backend.urls[0], timeout=30) as client:
        response = generate(client, token)
    assert response.status_code == 504
    assert response.json()["metadata"]["error_code"] == "UPSTREAM_TIMEOUT"


def test_ai_service_unreachable_answers_503(
    golive_start_backend: BackendFactory, golive_unused_port: int, golive_user_credentials: Credentials
) -> None:
    backend = golive_start_backend({"AI_SERVICE_URL": f"http://127.0.0.1:{golive_unused_port}"})
    token = login(backend.urls[0], golive_user_credentials)
    with http_clients.Client(base_url=backend.urls[0], timeout=30) as client:
        response = generate(client, token)
    assert response.status_code == 503
    assert response.json()["metadata"]["error_code"] == "DEPENDENCY_UNAVAILABLE"


@pytest.mark.external_ok
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": ""},
        {"prompt": "x" * 4001},
        {"prompt": "ok", "content_type": "poem"},
        {"prompt": "ok", "agent": "Bad Name"},
    ],
    ids=["empty", "blank-prompt", "long-prompt", "unknown-type", "bad-agent"],
)
def test_invalid_generation_requests_are_422(
    golive_http: httpx.Client, golive_user_token: str, body: dict[str, str]
) -> None:
    response = golive_http.post("/api/v1/content/generate", json=body, headers=bearer(golive_user_token))
    assert response.status_code == 422
    assert response.json()["metadata"]["errors"]


@pytest.mark.external_ok
def test_unknown_and_malformed_content_ids(golive_http: httpx.Client, golive_user_token: str) -> None:
    assert (
        golive_http.get(f"/api/v1/content/{uuid.uuid4()}", headers=bearer(golive_user_token)).status_code
        == 404
    )
    # Not an id at all: no such resource can exist there.
    assert golive_http.get("/api/v1/content/not-a-uuid", headers=bearer(golive_user_token)).status_code == 404


def user_with_content(description: StackDescription, jwt_secret: str, items: int) -> str:
    """A new user owning `items` completed jobs, made at once in the database; their token."""
    dsn = description.postgres
    assert dsn is not None
    user = new_credentials(f"pages-{uuid.uuid4().hex[:8]}")
    user_id = create_users(dsn, {"user": user})["user"]
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "INSERT INTO content (id, user_id, prompt, status, created_at) "
            "SELECT gen_random_uuid(), %s, 'page item ' || n, 'completed', now() - n * interval '1 second' "
            "FROM generate_series(1, %s) n",
            (user_id, items),
        )
    return mint_token(jwt_secret, user_id, user.username, "user")


def test_pages_by_limit_and_offset_hold_every_item_once(
    golive_http: httpx.Client, golive_stack_description: StackDescription, golive_jwt_secret: str
) -> None:
    token = user_with_content(golive_stack_description, golive_jwt_secret, 7)

    def page(limit: int, offset: int) -> list[str]:
        response = golive_http.get(
            "/api/v1/content", params={"limit": limit, "offset": offset}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    everything = page(100, 0)
    assert len(everything) == 7
    assert page(3, 0) + page(3, 3) + page(3, 6) == everything  # offset counts items, not pages
    assert page(3, 7) == []


def test_a_page_costs_the_same_database_round_trips_whatever_its_size(
    golive_http: httpx.Client,
    golive_stack_description: StackDescription,
    golive_jwt_secret: str,
    golive_toxiproxy: ToxiproxyClient,
) -> None:
    """A listing loads its page in a bounded number of queries, not one per item (N+1): with every
    answer from Postgres made ROUND_TRIP_MS late, a page of 50 must cost about what a page of 1
    does. (Counted in round trips, so a busy machine's slowness does not count.)"""
    token = user_with_content(golive_stack_description, golive_jwt_secret, PAGE)

    def listing(limit: int) -> float:
        started = time.perf_counter()
        response = golive_http.get("/api/v1/content", params={"limit": limit}, headers=bearer(token))
        took = time.perf_counter() - started
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]) == limit
        return took

    with golive_toxiproxy.toxic("postgres", "latency", {"latency": ROUND_TRIP_MS}):
        listing(1), listing(PAGE)  # the pool's connections made, under the latency too
        one = min(listing(1) for _ in range(3))
        whole = min(listing(PAGE) for _ in range(3))
    extra = (whole - one) * 1000 / ROUND_TRIP_MS
    assert extra < MAX_EXTRA_ROUND_TRIPS, (
        f"a page of {PAGE} took {extra:.0f} more round trips to the database than a page of 1 "
        f"({whole * 1000:.0f} ms against {one * 1000:.0f} ms): a query per item?"
    )
