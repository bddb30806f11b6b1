"""The envelope and X-Request-ID rules as data checks: each returns what is wrong, never raises.

Pytest suites assert on the result; chaos and load checkers count it. One definition of "inside
the envelope" for every part of golive.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "x-request-id"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
# Responses the guide does not wrap: the Prometheus scrape and the API documentation itself.
UNWRAPPED_PATHS = frozenset({"/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def _timestamp_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "metadata.timestamp is not a string"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"metadata.timestamp {value!r} is not ISO-8601"
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        return f"metadata.timestamp {value!r} is not UTC"
    return None


def envelope_problems(status: int, body: bytes | str, content_type: str) -> list[str]:
    """Everything about one response body that breaks the guide's envelope."""
    if not content_type.startswith("application/json"):
        return [f"content-type is {content_type!r}, not application/json"]
    try:
        document = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    if not isinstance(document, dict):
        return ["body is not a JSON object"]
    problems = []
    expected_keys = {"status", "message", "data", "metadata"}
    if set(document) != expected_keys:
        problems.append(f"top-level keys are {sorted(document)}, expected {sorted(expected_keys)}")
    success = 200 <= status < 400
    want_status = "success" if success else "error"
    if document.get("status") != want_status:
        problems.append(f"status is {document.get('status')!r} for HTTP {status}, expected {want_status!r}")
    if not isinstance(document.get("message"), str) or not document.get("message"):
        problems.append("message is not a non-empty string")
    if not success and document.get("data", "absent") is not None:
        problems.append("data is not null in an error envelope")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return [*problems, "metadata is not an object"]
    if problem := _timestamp_problem(metadata.get("timestamp")):
        problems.append(problem)
    if not isinstance(metadata.get("request_id"), str) or not metadata.get("request_id"):
        problems.append("metadata.request_id is missing")
    execution_time = metadata.get("execution_time")
    if not isinstance(execution_time, int | float) or isinstance(execution_time, bool) or execution_time < 0:
        problems.append("metadata.execution_time is not a non-negative number")
    if not success:
        code = metadata.get("error_code")
        if not isinstance(code, str) or not ERROR_CODE.fullmatch(code):
            problems.append(f"metadata.error_code {code!r} is not an UPPER_SNAKE code")
    elif "error_code" in metadata:
        problems.append("metadata.error_code in a success envelope")
    return problems


def request_id_problems(
    headers: Mapping[str, str], body: bytes | str, content_type: str, sent: str | None
) -> list[str]:
    """The response's X-Request-ID: the caller's when valid, else a fresh UUID; header == body."""
    echoed = headers.get(REQUEST_ID_HEADER)
    if echoed is None:
        return ["no X-Request-ID response header"]
    problems = []
    if sent is not None and VALID_REQUEST_ID.fullmatch(sent):
        if echoed != sent:
            problems.append(f"valid X-Request-ID {sent!r} came back as {echoed!r}")
    else:
        try:
            uuid.UUID(echoed)
        except ValueError:
            problems.append(f"invalid or missing X-Request-ID was not replaced by a UUID (got {echoed!r})")
        if sent is not None and echoed == sent:
            problems.append("an invalid X-Request-ID was echoed back")
    if content_type.startswith("application/json"):
        try:
            in_body = json.loads(body).get("metadata", {}).get("request_id")
        except (ValueError, AttributeError):
            in_body = None
        if in_body != echoed:
            problems.append(f"envelope request_id {in_body!r} differs from the header {echoed!r}")
    return problems


def response_problems(
    path: str, status: int, headers: Mapping[str, str], body: bytes | str, sent_request_id: str | None
) -> list[str]:
    """Every contract rule for one exchange."""
    content_type = headers.get("content-type", "")
    problems = request_id_problems(headers, body, content_type, sent_request_id)
    if path in UNWRAPPED_PATHS and status < 400:
        return problems
    return problems + envelope_problems(status, body, content_type)
