"""The app's routes as its OpenAPI document declares them: what middleware that must know a
request's route template or a path's methods reads (FastAPI nests its routers, the document
lists them flat)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    methods: frozenset[str]  # upper case
    pattern: re.Pattern[str]


def route_templates(openapi: dict[str, Any]) -> list[RouteTemplate]:
    return [
        RouteTemplate(
            template,
            frozenset(method.upper() for method in operations),
            re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))),
        )
        for template, operations in openapi.get("paths", {}).items()
    ]
