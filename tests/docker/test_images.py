"""`golive images`: what gets built and in which order, and every way a build can fail, said in
one message with the end of its log."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest

from golive.images.build import Builder, ImageBuildError
from golive.images.catalog import BY_NAME, CATALOG, ImageSpec, UnknownImage, closure, host_ca_bundle
from golive.images.debian import BaseImageError, create_base_image
from tests.harness.golive import run_golive


def test_a_named_image_brings_what_it_is_built_from_in_build_order() -> None:
    assert [spec.name for spec in closure(["backend"])] == ["base", "python", "backend"]
    assert [spec.name for spec in closure(["redis", "toxiproxy"])] == ["base", "redis", "python", "toxiproxy"]
    assert closure([]) == list(CATALOG)


def test_every_image_is_built_from_one_the_catalog_builds_first() -> None:
    for index, spec in enumerate(CATALOG):
        if spec.base is not None:
            assert spec.base in [earlier.name for earlier in CATALOG[:index]], spec.name


def test_an_unknown_image_is_refused_with_the_choice() -> None:
    with pytest.raises(UnknownImage, match="unknown image 'mysql': choose from base, postgres"):
        closure(["mysql"])
    done = run_golive("images", "build", "mysql", timeout=60)
    assert done.returncode == 2
    assert "unknown image 'mysql'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_ca_bundle_is_the_one_pip_was_told_about() -> None:
    assert host_ca_bundle({"PIP_CERT": "/a.pem", "SSL_CERT_FILE": "/b.pem"}) == Path("/a.pem")
    assert host_ca_bundle({"SSL_CERT_FILE": "/b.pem"}) == Path("/b.pem")
    assert host_ca_bundle({}) is None


def test_a_ca_bundle_that_does_not_exist_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    done = run_golive("images", "build", "--ca-bundle", str(tmp_path / "none.pem"), timeout=60)
    assert done.returncode == 2
    assert "none.pem" in done.stderr
    from_environment = run_golive(
        "images", "build", "python", env={"PIP_CERT": str(tmp_path / "gone.pem")}, timeout=60
    )
    assert from_environment.returncode == 2
    assert f"{tmp_path / 'gone.pem'}: no such CA bundle (from the environment)" in from_environment.stderr


def one_step_image(tmp_path: Path, name: str, step: str) -> ImageSpec:
    """An image of one Dockerfile step on golive's base, tagged golive-test/NAME:0."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BY_NAME['base'].tag}\n{step}\n")
    return ImageSpec(name, f"golive-test/{name}:0", f"a test build ({name})", files=((".", str(context)),))


@pytest.mark.docker
def test_a_failing_dockerfile_step_is_reported_with_the_end_of_its_log(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    spec = one_step_image(tmp_path, "broken", "RUN echo preparing && echo 'it broke here' >&2 && exit 3")
    with pytest.raises(ImageBuildError) as failed:
        Builder(docker_client, tmp_path, "http://unused").build(spec)
    message = str(failed.value)
    assert message.startswith("golive-test/broken:0 did not build:")
    assert "it broke here" in message
    assert "returned a non-zero code: 3" in message
    assert f"(whole log: {tmp_path / 'image-broken.log'})" in message
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get("golive-test/broken:0")


@pytest.mark.docker
def test_a_stopped_build_ends_at_its_next_line_of_output_not_when_it_is_done(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """What Ctrl-C on `golive images build` does to the builds under way (golive.images.build)."""
    run = f"RUN echo {uuid.uuid4()}; for i in $(seq 120); do echo line $i; sleep 0.5; done"  # never cached
    spec = one_step_image(tmp_path, "slow", run)
    builder = Builder(docker_client, tmp_path, "http://unused")
    outcome: list[BaseException] = []

    def build() -> None:
        try:
            builder.build(spec)
        except ImageBuildError as error:
            outcome.append(error)

    thread = threading.Thread(target=build)
    thread.start()
    log = tmp_path / "image-slow.log"
    deadline = time.monotonic() + 60
    while "line 2" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    builder.stop()
    thread.join(10)  # the build alone would go on for most of a minute
    assert not thread.is_alive()
    assert [str(error) for error in outcome] == ["golive-test/slow:0: stopped"]
    # The engine dropped the build: its step's container goes, and no image is made.
    deadline = time.monotonic() + 30
    while _containers_running("seq 120", docker_client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _containers_running("seq 120", docker_client)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get("golive-test/slow:0")


def _containers_running(command: str, client: docker.DockerClient) -> list[str]:
    return [
        str(container.id)
        for container in client.containers.list(all=True, ignore_removed=True)  # the build's may go meanwhile
        if command in " ".join(container.attrs["Config"].get("Cmd") or [])
    ]


@pytest.mark.docker
def test_a_base_image_from_an_unreachable_mirror_fails_and_leaves_no_root_file_system(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = "http://127.0.0.1:9/debian"  # nothing listens on the discard port
    if os.geteuid() != 0:
        with pytest.raises(BaseImageError, match="needs root"):
            create_base_image(docker_client, "golive-test/debian:0", mirror, tmp_path / "log")
        return
    # A temp directory of its own: only what this build made is judged.
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with pytest.raises(BaseImageError) as failed:
        create_base_image(docker_client, "golive-test/debian:0", mirror, tmp_path / "log")
    assert f"debootstrap bookworm from {mirror} failed" in str(failed.value)
    assert list(temp.iterdir()) == []
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get("golive-test/debian:0")


@pytest.mark.docker
def test_images_list_names_each_image_and_what_the_provider_runs(docker_client: docker.DockerClient) -> None:
    done = run_golive("images", "list", env={"GOLIVE_REDIS_IMAGE": BY_NAME["redis"].tag}, timeout=60)
    assert done.returncode == 0, done.stderr
    for spec in CATALOG:
        assert spec.tag in done.stderr
    assert f"redis      {BY_NAME['redis'].tag} (set; on this engine)" in done.stderr
