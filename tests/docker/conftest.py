"""Tests that need a Docker engine and golive's images (`golive images build`). Without an engine
they skip and say why, unless GOLIVE_REQUIRE_DOCKER=1 (CI sets it: there, a skip would hide a
broken set-up)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest

from golive.fixtures.providers.docker.engine import (
    OWNER_LABEL,
    DockerUnavailable,
    connect,
    labels_of,
    leftovers,
    owner_alive,
    remove,
)
from golive.fixtures.providers.docker.settings import DockerSettings


def _unavailable(reason: str) -> None:
    if os.environ.get("GOLIVE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"GOLIVE_REQUIRE_DOCKER=1, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = connect()
    except DockerUnavailable as error:
        _unavailable(f"{error} (./scripts/docker-engine.sh installs and starts one)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_settings(docker_client: docker.DockerClient) -> DockerSettings:
    """The images the provider runs must be on the engine: no test pulls from a registry."""
    settings = DockerSettings()
    for image in (settings.postgres_image, settings.redis_image):
        try:
            docker_client.images.get(image)
        except docker.errors.ImageNotFound:
            _unavailable(f"image {image} is not on the engine (`golive images build`, then GOLIVE_*_IMAGE)")
    return settings


@pytest.fixture
def no_leftovers(docker_client: docker.DockerClient) -> Iterator[None]:
    """Fails a test that leaves a golive container or network behind, after removing it. Left
    behind: new, and owned by this process or by one that ended (the commands a test ran); the
    live runs of other sessions on the same engine are not this test's."""
    before = {resource.id for resource in leftovers(docker_client, every=True)}
    yield
    left = [
        resource
        for resource in leftovers(docker_client, every=True)
        if resource.id not in before
        and (labels_of(resource).get(OWNER_LABEL) == str(os.getpid()) or not owner_alive(labels_of(resource)))
    ]
    for resource in left:
        remove(resource)
    assert not left, f"left behind: {[resource.name for resource in left]}"
