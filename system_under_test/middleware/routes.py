"""The app's routes as its OpenAPI document declares them: what middleware that must know a
request's route template or a path's methods reads (FastAPI nests its routers, the document
lists them flat)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
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


class RouteTable:
    """The route templates of one app, handed to the middleware that needs them when the app is
    built. Read from the document on the first request, not at construction: the middleware is
    added while routers may still be included, and the document is only complete after."""

    def __init__(self, openapi: Callable[[], dict[str, Any]]) -> None:
        self._openapi = openapi

    @cached_property
    def templates(self) -> list[RouteTemplate]:
        return route_templates(self._openapi())
