"""Idempotency-Key on POST /api/v1/content/generate: one key, one job, one generation."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.description import Credentials, StackDescription
from golive.fixtures.upstream.control import UpstreamControl

from .conftest import BackendMaker

BODY = {"prompt": "the water cycle", "content_type": "lesson"}


def post(http: httpx.Client, token: str, key: str | None, body: dict[str, str] = BODY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return http.post("/api/v1/content/generate", json=body, headers=headers)


@pytest.fixture
def rows(golive_stack_description: StackDescription) -> Callable[[str], int]:
    """How many content rows hold this prompt."""
    dsn = golive_stack_description.postgres
    if dsn is None:
        pytest.skip("counting rows needs the stack's database")

    def count(prompt: str) -> int:
        with psycopg.connect(dsn) as connection:
            row = connection.execute("SELECT count(*) FROM content WHERE prompt = %s", (prompt,)).fetchone()
        assert row is not None
        return int(row[0])

    return count


def unique_body() -> dict[str, str]:
    return {**BODY, "prompt": f"the water cycle {uuid.uuid4().hex}"}


def test_a_repeat_is_replayed_not_run_again(
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_upstream: UpstreamControl,
    rows: Callable[[str], int],
) -> None:
    body, key = unique_body(), str(uuid.uuid4())
    first = post(golive_http, golive_user_token, key, body)
    again = post(golive_http, golive_user_token, key, body)
    assert first.status_code == again.status_code == 201
    assert again.json()["data"] == first.json()["data"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json()["metadata"]["request_id"] != first.json()["metadata"]["request_id"]
    assert golive_upstream.stats().generations == 1
    assert rows(body["prompt"]) == 1


def test_without_a_key_every_post_is_new(
    golive_http: httpx.Client, golive_user_token: str, rows: Callable[[str], int]
) -> None:
    body = unique_body()
    assert (
        post(golive_http, golive_user_token, None, body).json()["data"]["id"]
        != post(golive_http, golive_user_token, None, body).json()["data"]["id"]
    )
    assert rows(body["prompt"]) == 2


# Another valid value for each field of the request: the key's fingerprint must cover them all.
CHANGED = {"prompt": "something else", "content_type": "quiz", "agent": "another-agent"}


def request_fields(http: httpx.Client) -> set[str]:
    """The fields of the generate request, as the served OpenAPI document declares them."""
    document = http.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/content/generate"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema["properties"])


def test_every_field_of_the_request_has_a_change_to_try(golive_http: httpx.Client) -> None:
    # A field the backend adds to the request needs its value here, or its reuse goes untested.
    assert set(CHANGED) == request_fields(golive_http)


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_a_key_reused_for_another_request_is_422(
    golive_http: httpx.Client, golive_user_token: str, field: str
) -> None:
    key = str(uuid.uuid4())
    body = unique_body()
    assert post(golive_http, golive_user_token, key, body).status_code == 201
    reused = post(golive_http, golive_user_token, key, {**body, field: CHANGED[field]})
    assert reused.status_code == 422, f"the same key with another {field}: {reused.status_code}"
    assert reused.json()["metadata"]["error_code"] == "IDEMPOTENCY_KEY_REUSED"


def test_concurrent_repeats_run_once(
    golive_sut_url: str, golive_user_token: str, golive_upstream: UpstreamControl, rows: Callable[[str], int]
) -> None:
    golive_upstream.program(latency_ms=800)
    body, key = unique_body(), str(uuid.uuid4())

    async def storm() -> list[httpx.Response]:
        async with http_clients.AsyncClient(base_url=golive_sut_url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {golive_user_token}", "Idempotency-Key": key}
            return await asyncio.gather(
                *(client.post("/api/v1/content/generate", json=body, headers=headers) for _ in range(6))
            )

    answers = asyncio.run(storm())
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 409, 409, 409, 409, 409]
    conflict = next(answer for answer in answers if answer.status_code == 409)
    assert conflict.json()["metadata"]["error_code"] == "IDEMPOTENCY_CONFLICT"
    assert conflict.headers["retry-after"] == "1"
    assert golive_upstream.stats().generations == 1
    assert rows(body["prompt"]) == 1


def test_a_retry_after_a_failure_continues_the_same_job(
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_upstream: UpstreamControl,
    rows: Callable[[str], int],
) -> None:
    body, key = unique_body(), str(uuid.uuid4())
    golive_upstream.program(script=[500])
    failed = post(golive_http, golive_user_token, key, body)
    assert failed.status_code == 502
    job_id = failed.json()["metadata"]["details"]["content_id"]
    retried = post(golive_http, golive_user_token, key, body)
    assert retried.status_code == 201
    assert retried.json()["data"]["id"] == job_id
    assert retried.json()["data"]["status"] == "completed"
    assert rows(body["prompt"]) == 1


def test_keys_belong_to_their_user(
    golive_http: httpx.Client,
    golive_user_token: str,
    golive_admin_token: str,
    golive_user_credentials: Credentials,
) -> None:
    key = str(uuid.uuid4())
    mine = post(golive_http, golive_user_token, key)
    theirs = post(golive_http, golive_admin_token, key)
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["data"]["id"] != mine.json()["data"]["id"]


@pytest.mark.parametrize("key", ["has space", "", "x" * 256, "semi;colon", '"unbalanced'])
def test_malformed_keys_are_422(golive_http: httpx.Client, golive_user_token: str, key: str) -> None:
    response = post(golive_http, golive_user_token, key)
    assert response.status_code == 422
    assert response.json()["metadata"]["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_quoted_key_is_the_same_key(golive_http: httpx.Client, golive_user_token: str) -> None:
    key = uuid.uuid4().hex
    first = post(golive_http, golive_user_token, f'"{key}"')
    again = post(golive_http, golive_user_token, key)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]


# The retries' waits are random (full jitter: uniform up to the backoff), so they are judged on
# the quantiles of many rounds, which a scheduling hiccup does not move as it moves a mean.
BACKOFF_ROUNDS = 80
# Rounds side by side (each job's attempts told apart by the key the backend sends the service):
# the waits are the backend's, so they take a quarter of the time at the same count.
ROUNDS_AT_ONCE = 2
# A backoff whose first waits are nine in ten shorter than this is no wait (the reference
# backend's first waits are uniform up to 50 ms: a tenth of them over 45 ms).
NO_WAIT_SECONDS = 0.010


def test_retries_back_off_each_wait_longer_by_the_factor(
    backend: BackendMaker, golive_upstream: UpstreamControl
) -> None:
    """The guide's RETRY_MAX_ATTEMPTS=3 and RETRY_BACKOFF_FACTOR=2: a transient failure is retried
    after a wait, and the next wait is longer by the factor (jitter spreads them). A retry sent
    at once hits a service that is already failing, from every client at the same moment.
    Measured where the service sees them: when each attempt of a job arrives."""
    factor = 2.0
    service = backend(
        RETRY_MAX_ATTEMPTS="3",
        RETRY_BACKOFF_FACTOR=str(int(factor)),
        # Two failures per job must not open the breaker, with as many jobs failing at once.
        CIRCUIT_BREAKER_FAILURE_THRESHOLD=str(2 * ROUNDS_AT_ONCE + 1),
        RATE_LIMIT_ENABLED="false",
    )
    golive_upstream.reset()  # these rounds' attempts only
    golive_upstream.program(failures_per_key=2, error_status=503)  # each job: two failures, then the answer
    with service.client() as client, ThreadPoolExecutor(ROUNDS_AT_ONCE) as rounds:
        answers = list(
            rounds.map(
                lambda _: post(client, service.user, str(uuid.uuid4()), unique_body()), range(BACKOFF_ROUNDS)
            )
        )
    for response in answers:
        assert response.status_code == 201, response.text
    by_job: dict[str | None, list[float]] = defaultdict(list)
    for attempt in golive_upstream.stats().attempts:
        by_job[attempt.key].append(attempt.at)
    assert None not in by_job, (
        "calls to the AI service without an Idempotency-Key: retries cannot be told apart"
    )
    counts = sorted({len(arrivals) for arrivals in by_job.values()})
    assert counts == [3], f"attempts of one job that reached the service: {counts}, not 3"
    first = [arrivals[1] - arrivals[0] for arrivals in by_job.values()]
    second = [arrivals[2] - arrivals[1] for arrivals in by_job.values()]
    slow_first = statistics.quantiles(first, n=10)[-1]
    ratio = statistics.median(second) / statistics.median(first)
    said = (
        f"waits before the first retry: median {statistics.median(first) * 1000:.1f} ms, nine in "
        f"ten under {slow_first * 1000:.1f} ms; before the second: median "
        f"{statistics.median(second) * 1000:.1f} ms"
    )
    assert slow_first >= NO_WAIT_SECONDS, f"{said}: the first retry goes out at once"
    # Full jitter halves each wait on average, so the medians' ratio is about the factor; far
    # above it, the first retry hardly waited at all.
    assert ratio <= factor * 1.75, f"{said}: the first wait is not the factor's backoff (ratio {ratio:.1f})"
