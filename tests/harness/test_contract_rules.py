"""The contract checker must catch every way out of the envelope (a checker that cannot fail is no check)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from golive.core.contract_rules import envelope_problems, request_id_problems, response_problems


def good_error() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "Not Found",
        "data": None,
        "metadata": {
            "timestamp": "2025-09-23T10:30:00Z",
            "request_id": "abc",
            "error_code": "NOT_FOUND",
            "execution_time": 0.01,
        },
    }


def good_success() -> dict[str, Any]:
    body = good_error()
    body.update(status="success", message="OK", data={"x": 1})
    del body["metadata"]["error_code"]
    return body


def check(status: int, document: object, content_type: str = "application/json") -> list[str]:
    return envelope_problems(status, json.dumps(document), content_type)


def test_the_guides_examples_pass() -> None:
    assert check(404, good_error()) == []
    assert check(200, good_success()) == []


def mutate(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    target = document
    *parents, last = path.split(".")
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("status", "success", "status"),
        ("status", KeyError, "top-level keys"),
        ("message", "", "message"),
        ("message", 3, "message"),
        ("data", {"leak": 1}, "data is not null"),
        ("metadata", "x", "metadata is not an object"),
        ("metadata.timestamp", "yesterday", "ISO-8601"),
        ("metadata.timestamp", "2025-09-23T10:30:00", "not UTC"),
        ("metadata.timestamp", "2025-09-23T10:30:00+02:00", "not UTC"),
        ("metadata.request_id", KeyError, "request_id"),
        ("metadata.error_code", KeyError, "error_code"),
        ("metadata.error_code", "not found", "error_code"),
        ("metadata.execution_time", -1, "execution_time"),
        ("metadata.execution_time", "fast", "execution_time"),
        ("extra", 1, "top-level keys"),
    ],
)
def test_each_violation_is_caught(path: str, value: object, expected: str) -> None:
    problems = check(404, mutate(good_error(), path, value))
    assert any(expected in problem for problem in problems), problems


def test_success_with_error_code_is_caught() -> None:
    body = good_success()
    body["metadata"]["error_code"] = "X"
    assert check(200, body)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ('{"error": "x"}', "application/json", "top-level keys"),
        ("Internal Server Error", "text/plain", "content-type"),
        ("{not json", "application/json", "not JSON"),
        ("[1]", "application/json", "not a JSON object"),
    ],
)
def test_foreign_bodies_are_caught(body: str, content_type: str, expected: str) -> None:
    assert any(expected in problem for problem in envelope_problems(500, body, content_type))


def test_request_id_rules() -> None:
    generated = str(uuid.uuid4())
    body = json.dumps({"metadata": {"request_id": "abc"}})
    assert request_id_problems({"x-request-id": "abc"}, body, "application/json", "abc") == []
    assert request_id_problems({"x-request-id": "zzz"}, body, "application/json", "abc")
    assert request_id_problems({}, body, "application/json", "abc") == ["no X-Request-ID response header"]
    bad_echo = request_id_problems({"x-request-id": "has space"}, body, "application/json", "has space")
    assert any("echoed" in problem or "UUID" in problem for problem in bad_echo)
    mismatch = request_id_problems({"x-request-id": generated}, body, "application/json", None)
    assert any("differs" in problem for problem in mismatch)


def test_metrics_and_docs_are_exempt_from_the_envelope_only() -> None:
    headers = {"x-request-id": "abc", "content-type": "text/plain"}
    assert response_problems("/metrics", 200, headers, "# HELP x", "abc") == []
    assert response_problems("/other", 200, headers, "# HELP x", "abc")
    assert response_problems("/metrics", 200, {"content-type": "text/plain"}, "", None)
