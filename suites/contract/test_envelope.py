"""Every response of every route, and every class of error, is inside the guide's envelope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from golive.core.contract_rules import envelope_problems, response_problems

from .openapi import Operation, wrong_methods

pytestmark = pytest.mark.external_ok


def problems_of(response: httpx.Response, sent_request_id: str | None = None) -> list[str]:
    return response_problems(
        response.request.url.path, response.status_code, response.headers, response.content, sent_request_id
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["metadata"]["error_code"]
    return code


def expect_error(label: str, response: httpx.Response, status: int, *codes: str) -> list[str]:
    """What is wrong with `response` as the error envelope of this class (status, error codes)."""
    if response.status_code != status:
        return [f"{label} -> {response.status_code}, expected {status}"]
    failures = [f"{label}: {problem}" for problem in problems_of(response)]
    if not failures and error_code(response) not in codes:
        failures.append(f"{label}: error_code {error_code(response)}, expected {' or '.join(codes)}")
    return failures


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ["anonymous", "user", "admin"])
def test_every_operation_answers_inside_the_contract(
    role: str,
    request: pytest.FixtureRequest,
    golive_http: httpx.Client,
    operations: list[Operation],
    components: dict[str, Any],
) -> None:
    headers = {} if role == "anonymous" else bearer(request.getfixturevalue(f"golive_{role}_token"))
    failures = []
    for operation in operations:
        request_id = f"contract-{role}-{uuid.uuid4().hex[:12]}"
        response = golive_http.request(
            operation.method,
            operation.url(components),
            headers={**headers, "X-Request-ID": request_id},
            json={} if operation.takes_json else None,
        )
        for problem in problems_of(response, request_id):
            failures.append(f"{operation.id} -> {response.status_code}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v1/nope",
        "/api/v2/content",
        "/health/extra",
        "/api/v1/content/generate/extra",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/" + "a" * 4000,
        "/api/v1/users/%00",
    ],
)
def test_unknown_routes_answer_404_envelope(golive_http: httpx.Client, path: str) -> None:
    response = golive_http.get(path)
    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"
    assert problems_of(response) == []


def test_wrong_methods_answer_405_envelope(golive_http: httpx.Client, operations: list[Operation]) -> None:
    pairs = wrong_methods(operations)
    assert pairs, "every method is served on every path: nothing to check"
    failures = []
    for method, path in pairs:
        response = golive_http.request(method, path)
        label = f"{method.upper()} {path}"
        failures += expect_error(label, response, 405, "METHOD_NOT_ALLOWED")
        if "allow" not in response.headers:
            failures.append(f"{label}: no Allow header")
    assert not failures, "\n".join(failures)


def _json_operations(operations: list[Operation]) -> Iterator[Operation]:
    found = [operation for operation in operations if operation.takes_json]
    assert found, "no operation takes a JSON body"
    yield from found


@pytest.mark.parametrize(
    "body",
    [b'{"broken": ', b"[1, 2", b"\xff\xfe\x00", b"null", b'"a string"', b"[]"],
    ids=["truncated", "unclosed-array", "not-utf8", "null", "string", "array"],
)
def test_malformed_json_answers_422_with_field_errors(
    golive_http: httpx.Client,
    operations: list[Operation],
    components: dict[str, Any],
    golive_admin_token: str,
    body: bytes,
) -> None:
    failures = []
    for operation in _json_operations(operations):
        response = golive_http.request(
            operation.method,
            operation.url(components),
            content=body,
            headers={**bearer(golive_admin_token), "Content-Type": "application/json"},
        )
        failures += expect_error(operation.id, response, 422, "VALIDATION_ERROR")
        if response.status_code == 422 and not response.json()["metadata"].get("errors"):
            failures.append(f"{operation.id}: no field errors")
    assert not failures, "\n".join(failures)


def test_validation_errors_name_the_missing_fields(
    golive_http: httpx.Client,
    operations: list[Operation],
    components: dict[str, Any],
    golive_admin_token: str,
) -> None:
    failures = []
    for operation in _json_operations(operations):
        response = golive_http.request(
            operation.method, operation.url(components), json={}, headers=bearer(golive_admin_token)
        )
        if response.status_code != 422:
            failures.append(f"{operation.id} -> {response.status_code}, expected 422 for an empty object")
            continue
        errors = response.json()["metadata"]["errors"]
        for error in errors:
            if not {"loc", "msg", "type"} <= set(error) or error["loc"][:1] != ["body"]:
                failures.append(f"{operation.id}: field error without a body location: {error}")
        if "input" in json.dumps(errors):
            failures.append(f"{operation.id}: field errors echo the input back")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "bearer " + "x" * 5000],
    ids=["missing", "empty-bearer", "garbage", "basic-scheme", "three-parts", "huge"],
)
def test_protected_operations_answer_401_envelope(
    golive_http: httpx.Client,
    operations: list[Operation],
    components: dict[str, Any],
    authorization: str | None,
) -> None:
    protected = [operation for operation in operations if operation.needs_auth]
    assert protected, "no operation declares security"
    failures = []
    for operation in protected:
        headers = {"Authorization": authorization} if authorization else {}
        response = golive_http.request(
            operation.method,
            operation.url(components),
            headers=headers,
            json={} if operation.takes_json else None,
        )
        failures += expect_error(operation.id, response, 401, "UNAUTHORIZED", "INVALID_TOKEN")
        if response.headers.get("www-authenticate", "").lower() != "bearer":
            failures.append(f"{operation.id}: no WWW-Authenticate: Bearer challenge")
    assert not failures, "\n".join(failures)


def test_admin_operations_answer_403_envelope_to_users(
    golive_http: httpx.Client, operations: list[Operation], components: dict[str, Any], golive_user_token: str
) -> None:
    admin_only = [operation for operation in operations if operation.admin_only]
    assert admin_only, "no operation is marked x-required-role: admin"
    failures = []
    for operation in admin_only:
        body = {"username": "nobody-" + uuid.uuid4().hex[:8], "password": "long-enough-1"}
        response = golive_http.request(
            operation.method,
            operation.url(components),
            headers=bearer(golive_user_token),
            json=body if operation.takes_json else None,
        )
        failures += expect_error(operation.id, response, 403, "FORBIDDEN")
    assert not failures, "\n".join(failures)


def test_declared_oversized_bodies_answer_413_envelope(
    golive_http: httpx.Client,
    operations: list[Operation],
    components: dict[str, Any],
    golive_admin_token: str,
) -> None:
    oversized = b'{"prompt": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    failures = []
    for operation in _json_operations(operations):
        response = golive_http.request(
            operation.method,
            operation.url(components),
            content=oversized,
            headers={**bearer(golive_admin_token), "Content-Type": "application/json"},
        )
        failures += expect_error(operation.id, response, 413, "PAYLOAD_TOO_LARGE")
    assert not failures, "\n".join(failures)


def test_streamed_oversized_body_answers_413_envelope(
    golive_http: httpx.Client, golive_user_token: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    # No Content-Length: the limit can only be found while reading.
    response = golive_http.post(
        "/api/v1/content/generate",
        content=chunks(),
        headers={**bearer(golive_user_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_code(response) == "PAYLOAD_TOO_LARGE"
    assert problems_of(response) == []


def test_oversized_body_to_a_route_that_reads_none_answers_413_envelope(golive_http: httpx.Client) -> None:
    response = golive_http.request("GET", "/health", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert problems_of(response) == []


def test_cors_rejection_inside_middleware_answers_envelope(golive_http: httpx.Client) -> None:
    response = golive_http.options(
        "/health", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    assert problems_of(response) == []


def test_success_envelope_carries_data_and_metadata(
    golive_http: httpx.Client, golive_user_token: str
) -> None:
    response = golive_http.get("/api/v1/auth/me", headers=bearer(golive_user_token))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["username"]
    assert envelope_problems(200, response.content, response.headers["content-type"]) == []
