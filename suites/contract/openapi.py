"""The operations a backend declares in its OpenAPI document, and requests that exercise them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def needs_auth(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def admin_only(self) -> bool:
        return self.spec.get("x-required-role") == "admin"

    @property
    def takes_json(self) -> bool:
        content = self.spec.get("requestBody", {}).get("content", {})
        return "application/json" in content

    def url(self, components: dict[str, Any]) -> str:
        """The path with every parameter filled by a value of the declared type."""
        parameters = {
            item["name"]: item for item in self.spec.get("parameters", []) if item.get("in") == "path"
        }

        def fill(match: re.Match[str]) -> str:
            schema = parameters.get(match.group(1), {}).get("schema", {})
            return _sample(schema, components)

        return re.sub(r"\{([^}]+)\}", fill, self.path)


def _sample(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        schema = components.get("schemas", {}).get(schema["$ref"].rsplit("/", 1)[1], {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    if "enum" in schema:
        return str(schema["enum"][0])
    return "sample"


def load_operations(client: httpx.Client) -> tuple[list[Operation], dict[str, Any]]:
    response = client.get("/openapi.json")
    response.raise_for_status()
    document = response.json()
    operations = [
        Operation(method, path, spec)
        for path, item in document.get("paths", {}).items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    ]
    return operations, document.get("components", {})


def wrong_methods(operations: list[Operation]) -> list[tuple[str, str]]:
    """(method, path) pairs no operation serves: fixed paths asked with a method that no route,
    templated ones included (GET /content/generate is GET /content/{id}), answers for them."""
    templates = [(operation.method, _template_regex(operation.path)) for operation in operations]
    pairs = []
    for path in sorted({operation.path for operation in operations if "{" not in operation.path}):
        for method in HTTP_METHODS:
            if not any(served == method and pattern.fullmatch(path) for served, pattern in templates):
                pairs.append((method, path))
    return pairs


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
