from __future__ import annotations

from typing import Any

import pytest

from golive.core import http_clients

from .openapi import Operation, load_operations


@pytest.fixture(scope="session")
def openapi(golive_sut_url: str) -> tuple[list[Operation], dict[str, Any]]:
    with http_clients.Client(base_url=golive_sut_url, timeout=30) as client:
        operations, components = load_operations(client)
    # A contract checked against nothing would pass vacuously.
    assert len(operations) >= 5, f"the OpenAPI document declares only {len(operations)} operations"
    return operations, components


@pytest.fixture(scope="session")
def operations(openapi: tuple[list[Operation], dict[str, Any]]) -> list[Operation]:
    return openapi[0]


@pytest.fixture(scope="session")
def components(openapi: tuple[list[Operation], dict[str, Any]]) -> dict[str, Any]:
    return openapi[1]
