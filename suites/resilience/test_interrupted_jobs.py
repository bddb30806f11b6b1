"""A generation whose request fails partway never stays `processing`, and never keeps its
Idempotency-Key claimed: the database connection is really lost while the outcome is stored (a
trigger makes the server terminate that connection), and jobs whose request died are reaped."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from golive.core import http_clients
from golive.fixtures.accounts import new_credentials
from golive.fixtures.clients import BackendFactory
from golive.fixtures.network import wait_until
from golive.fixtures.operations import create_users

from .conftest import BackendMaker

CUT_PREFIX = "cut the connection: "

# Storing a completed generation whose prompt starts with CUT_PREFIX makes Postgres terminate the
# storing connection: what a Postgres cut does to a request partway, at a known point.
_CUT_ON_COMPLETION = f"""
CREATE FUNCTION golive_cut_connection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_terminate_backend(pg_backend_pid());
    RETURN NEW;
END $$;
CREATE TRIGGER golive_cut_connection BEFORE UPDATE ON content FOR EACH ROW
    WHEN (NEW.status = 'completed' AND NEW.prompt LIKE '{CUT_PREFIX}%')
    EXECUTE FUNCTION golive_cut_connection();
"""


@pytest.fixture
def cut_on_completion(golive_database: str) -> None:
    """Installed in the test's own database, dropped with it."""
    with psycopg.connect(golive_database, autocommit=True) as connection:
        connection.execute(_CUT_ON_COMPLETION.encode())


def heal(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("DROP TRIGGER golive_cut_connection ON content")


def job(database: str, prompt: str) -> tuple[str, str | None]:
    with psycopg.connect(database) as connection:
        row = connection.execute("SELECT status, error FROM content WHERE prompt = %s", (prompt,)).fetchone()
    assert row is not None, f"no job for {prompt!r}"
    return str(row[0]), row[1]


def generate(url: str, token: str, prompt: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return http_clients.post(
        f"{url}/api/v1/content/generate", json={"prompt": prompt}, headers=headers, timeout=30
    )


def test_a_connection_lost_while_storing_fails_the_job(
    backend: BackendMaker, golive_database: str, cut_on_completion: None
) -> None:
    sut = backend()
    prompt = f"{CUT_PREFIX}{uuid.uuid4().hex}"
    response = generate(sut.cluster.urls[0], sut.user, prompt)
    assert response.status_code == 503, response.text
    assert response.json()["metadata"]["error_code"] == "DEPENDENCY_UNAVAILABLE"
    status, error = job(golive_database, prompt)
    assert status == "failed"
    assert error is not None
    assert error.startswith("Generation interrupted")


def test_a_connection_lost_while_storing_releases_the_key(
    backend: BackendMaker, golive_database: str, cut_on_completion: None
) -> None:
    sut = backend()
    url, prompt, key = sut.cluster.urls[0], f"{CUT_PREFIX}{uuid.uuid4().hex}", str(uuid.uuid4())
    assert generate(url, sut.user, prompt, key).status_code == 503
    heal(golive_database)
    retried = generate(url, sut.user, prompt, key)
    assert retried.status_code == 201, retried.text  # not 409: the claim was released
    assert retried.json()["data"]["status"] == "completed"
    assert job(golive_database, prompt) == ("completed", None)  # the same, single job carried on


def test_jobs_whose_request_died_are_reaped(
    golive_database: str, golive_start_backend: BackendFactory
) -> None:
    ids = create_users(golive_database, {"user": new_credentials(f"reaped-{uuid.uuid4().hex[:8]}")})
    names = ("stale", "fresh", "retried", "claim-abandoned")
    stale, fresh, retried, abandoned = (f"{name} {uuid.uuid4().hex}" for name in names)
    with psycopg.connect(golive_database) as connection:
        for prompt, age in (
            (stale, "1 hour"),
            (fresh, "0 seconds"),
            (retried, "1 hour"),
            (abandoned, "1 hour"),
        ):
            connection.execute(
                "INSERT INTO content (id, user_id, prompt, status, created_at) "
                "VALUES (gen_random_uuid(), %s, %s, 'processing', now() - %s::interval)",
                (ids["user"], prompt, age),
            )
        # An old job that a retry under an Idempotency-Key is carrying on right now; and one whose
        # key was claimed as long ago as the job began (the replica holding it died): abandoned.
        for key, prompt, age in (("k1", retried, "0 seconds"), ("k2", abandoned, "1 hour")):
            connection.execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, content_id, updated_at) "
                "SELECT user_id, %s, 'f', 'in_flight', id, now() AT TIME ZONE 'UTC' - %s::interval "
                "FROM content WHERE prompt = %s",
                (key, age, prompt),
            )
    golive_start_backend({"DATABASE_URL": golive_database, "CONTENT_JOB_TIMEOUT_SECONDS": "600"})
    wait_until(
        lambda: True if job(golive_database, stale)[0] == "failed" else None,
        timeout=30,
        what="the stale job reaped",
        interval=0.2,
    )
    for reaped in (stale, abandoned):
        status, error = job(golive_database, reaped)
        assert status == "failed", reaped
        assert error is not None
        assert error.startswith("Abandoned")
    # One UPDATE reaped the stale job: the others were judged in the same pass.
    assert job(golive_database, fresh) == ("processing", None)
    assert job(golive_database, retried) == ("processing", None)
