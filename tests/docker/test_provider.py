"""The docker provider against a real engine: containers on loopback mappings, labelled with their
run, gone afterwards however the run ends (teardown, failed start, Ctrl-C, SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import psutil
import psycopg
import pytest
import redis
from docker.models.containers import Container

from golive.fixtures.network import PortClaim, wait_until
from golive.fixtures.processes import ProcessError
from golive.fixtures.providers.docker import DockerProvider
from golive.fixtures.providers.docker.engine import (
    OWNER_LABEL,
    RUN_LABEL,
    SERVICE_LABEL,
    DockerUnavailable,
    golive_containers,
    golive_networks,
    remove,
)
from golive.fixtures.providers.docker.settings import DockerSettings
from golive.fixtures.providers.docker.toxiproxy import DockerToxiproxy
from golive.fixtures.toxiproxy import ToxiproxyClient
from tests.harness.golive import first_line, run_golive, spawn_up, stop
from tests.harness.leaks import assert_no_survivors, new_marker

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_leftovers")]


def loopback_bindings(container: Container) -> set[str]:
    bindings = container.attrs["HostConfig"]["PortBindings"] or {}
    return {binding["HostIp"] for entries in bindings.values() for binding in entries}


def test_postgres_and_redis_run_as_labelled_containers_reached_on_loopback(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    provider = DockerProvider(docker_settings)
    postgres = provider.start_postgres(tmp_path)
    redis_service = provider.start_redis(tmp_path)
    try:
        containers = {c.labels[SERVICE_LABEL]: c for c in golive_containers(docker_client, provider.run)}
        assert set(containers) == {"postgres", "redis"}
        for container in containers.values():
            assert loopback_bindings(container) == {"127.0.0.1"}
            assert str(container.name).startswith(f"golive-{provider.run}-")
        with psycopg.connect(postgres.admin.dsn("postgres")) as connection:
            superuser, connections = connection.execute(
                "SELECT rolsuper, current_setting('max_connections') FROM pg_roles"
                " WHERE rolname = current_user"
            ).fetchone() or (None, None)
        assert (superuser, connections) == (True, "300")
        assert postgres.admin.host == "127.0.0.1"
        with redis.Redis.from_url(redis_service.url) as client:
            assert client.ping()
            assert client.config_get("repl-diskless-sync-delay") == {"repl-diskless-sync-delay": "0"}
        assert provider.used == {
            "postgres": docker_settings.postgres_image,
            "redis": docker_settings.redis_image,
        }
    finally:
        redis_service.stop()
        postgres.stop()
        provider.close()
    assert golive_containers(docker_client, provider.run) == []
    assert "database system is ready to accept connections" in (tmp_path / "postgres.log").read_text()
    assert (tmp_path / "redis.log").read_text()


def require_toxiproxy_image(docker_client: docker.DockerClient, docker_settings: DockerSettings) -> None:
    try:
        docker_client.images.get(docker_settings.toxiproxy_image)
    except docker.errors.ImageNotFound:
        pytest.skip(f"no image {docker_settings.toxiproxy_image} (`golive images build toxiproxy`)")


def test_the_fault_proxy_runs_from_an_image_that_speaks_toxiproxy(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    require_toxiproxy_image(docker_client, docker_settings)
    provider = DockerProvider(docker_settings)
    redis_service = provider.start_redis(tmp_path)
    proxy = provider.start_fault_proxy(tmp_path, seed=7)
    try:
        assert provider.used["toxiproxy"] == docker_settings.toxiproxy_image
        (container,) = [
            c
            for c in golive_containers(docker_client, provider.run)
            if c.labels[SERVICE_LABEL] == "toxiproxy"
        ]
        assert container.attrs["HostConfig"]["NetworkMode"] == "host"
        client = proxy.client()
        try:
            upstream = redis_service.url.split("//", 1)[1].split("/", 1)[0]
            created = client.create("redis", upstream)
            host, port = created["listen"].rsplit(":", 1)
            assert host == "127.0.0.1"
            with redis.Redis(host=host, port=int(port), socket_timeout=5) as through_proxy:
                assert through_proxy.ping()
                with client.down("redis"), pytest.raises(redis.ConnectionError):
                    through_proxy.ping()
        finally:
            client.close()
    finally:
        proxy.stop()
        redis_service.stop()
        provider.close()


def test_the_fault_proxy_containers_port_is_kept_from_golives_other_processes_until_it_serves(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    """The container is told its API port: in the moment before it binds it, another stack's
    fault proxy given the same port would answer the readiness probe in its place."""
    require_toxiproxy_image(docker_client, docker_settings)
    provider = DockerProvider(docker_settings)
    proxy = DockerToxiproxy(docker_settings.toxiproxy_image, provider.labels, tmp_path)
    port = int(proxy.url.rsplit(":", 1)[1])
    try:
        assert PortClaim.take(port) is None  # what another golive process picking a port sees
        proxy.start()
        claim = PortClaim.take(port)
        assert claim is not None  # served: the claim has done its job
        claim.release()
        client = proxy.client()
        try:
            assert client.version()
        finally:
            client.close()
    finally:
        proxy.stop()
        provider.close()


def test_without_a_toxiproxy_image_the_built_in_proxy_runs(
    docker_settings: DockerSettings, tmp_path: Path
) -> None:
    settings = docker_settings.model_copy(update={"toxiproxy_image": "golive-test/no-such-toxiproxy:0"})
    provider = DockerProvider(settings)
    proxy = provider.start_fault_proxy(tmp_path, seed=None)
    try:
        assert provider.used["toxiproxy"] == "built-in (no image golive-test/no-such-toxiproxy:0)"
        client = ToxiproxyClient(proxy.url)
        try:
            assert client.version()
        finally:
            client.close()
    finally:
        proxy.stop()
        provider.close()


def test_an_image_neither_local_nor_pullable_is_named_with_the_way_out(
    docker_settings: DockerSettings, tmp_path: Path
) -> None:
    settings = docker_settings.model_copy(update={"postgres_image": "golive-test/no-such-postgres:0"})
    provider = DockerProvider(settings)
    try:
        with pytest.raises(DockerUnavailable) as refused:
            provider.start_postgres(tmp_path)
    finally:
        provider.close()
    message = str(refused.value)
    assert message.startswith(
        "image golive-test/no-such-postgres:0 is not on this Docker engine and cannot be pulled"
    )
    assert "`golive images build`" in message
    assert "GOLIVE_POSTGRES_IMAGE" in message


def test_a_container_that_never_becomes_ready_is_removed_with_its_log_in_the_error(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    # The Redis image has no `postgres`: the container exits at once, the wait gives up.
    settings = docker_settings.model_copy(
        update={"postgres_image": docker_settings.redis_image, "docker_start_timeout": 5.0}
    )
    provider = DockerProvider(settings)
    try:
        with pytest.raises(ProcessError, match="postgres container did not start"):
            provider.start_postgres(tmp_path)
        assert golive_containers(docker_client, provider.run) == []
    finally:
        provider.close()


def test_the_reaper_removes_the_containers_of_a_harness_killed_outright(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    marker = new_marker()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from fixtures.providers.docker import DockerProvider\n"
        "provider = DockerProvider()\n"
        "provider.start_redis(Path(sys.argv[1]))\n"
        "print(provider.run, flush=True)\n"
        "time.sleep(120)\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker, "GOLIVE_REDIS_IMAGE": docker_settings.redis_image},
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert harness.stdout is not None
        run = harness.stdout.readline().strip()
        assert run, "the harness did not start its container"
        assert len(golive_containers(docker_client, run)) == 1
    finally:
        harness.kill()  # SIGKILL: no teardown, no exit hook
        harness.wait()
    wait_until(
        lambda: True if not golive_containers(docker_client, run) else None,
        timeout=30,
        what="the reaper to remove the killed harness's container",
    )
    assert_no_survivors(marker)  # the reaper too


def test_ctrl_c_on_golive_up_removes_every_container(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, tmp_path: Path
) -> None:
    marker = new_marker()
    env = {
        "GOLIVE_POSTGRES_IMAGE": docker_settings.postgres_image,
        "GOLIVE_REDIS_IMAGE": docker_settings.redis_image,
        "GOLIVE_TOXIPROXY_IMAGE": docker_settings.toxiproxy_image,
    }
    process = spawn_up(tmp_path / "run", marker, "--provider", "docker", env=env)
    try:
        stack = first_line(process)
        assert stack["provider"] == "docker"
        assert set(stack["services"]) == {"postgres", "redis", "toxiproxy"}
        owned = [
            c
            for c in golive_containers(docker_client)
            if c.labels.get("golive.owner-pid") == str(process.pid)
        ]
        assert {c.labels[SERVICE_LABEL] for c in owned} >= {"postgres", "redis"}
    finally:
        stop(process, signal.SIGINT)
    assert process.returncode == 0
    assert all(c.labels[RUN_LABEL] != owned[0].labels[RUN_LABEL] for c in golive_containers(docker_client))
    assert_no_survivors(marker)


def test_golive_clean_removes_leftovers_and_spares_live_runs(
    docker_client: docker.DockerClient, docker_settings: DockerSettings
) -> None:
    def labelled(owner: str, started: str) -> Container:
        labels = {RUN_LABEL: f"test-{owner}", OWNER_LABEL: owner, "golive.owner-started": started}
        return docker_client.containers.create(docker_settings.redis_image, labels=labels)

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        leftover = labelled("999999999", "0")  # no such process
        network = docker_client.networks.create(
            "golive-test-leftover", labels={RUN_LABEL: "test-net", OWNER_LABEL: "999999999"}
        )
        recycled = labelled(str(live.pid), "1.0")  # a pid now used by another process
        running = labelled(str(live.pid), str(psutil.Process(live.pid).create_time()))
        cleaned = run_golive("clean")
        assert cleaned.returncode == 0, cleaned.stderr
        remaining = {c.id for c in golive_containers(docker_client)}
        assert leftover.id not in remaining
        assert recycled.id not in remaining
        assert running.id in remaining
        assert network.id not in {n.id for n in golive_networks(docker_client)}
        assert f"removed container {leftover.name}" in cleaned.stderr
        assert "removed network golive-test-leftover" in cleaned.stderr
        # --all would also stop other sessions' stacks on this engine: a dry run shows its choice.
        everything = run_golive("clean", "--all", "--dry-run")
        assert everything.returncode == 0, everything.stderr
        assert f"would remove container {running.name}" in everything.stderr
        assert running.id in {c.id for c in golive_containers(docker_client)}
    finally:
        for container in golive_containers(docker_client):
            if container.labels[RUN_LABEL].startswith("test-"):
                remove(container)
        live.kill()
        live.wait()


def test_a_container_removed_while_golive_lists_them_is_gone_not_an_error(
    docker_client: docker.DockerClient, docker_settings: DockerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine lists ids, then each is inspected: here one is removed for real in between, as
    a replica's `docker run --rm` ending or another `golive clean` may do."""
    run = f"vanishing-{os.getpid()}"
    labels = {RUN_LABEL: run, OWNER_LABEL: str(os.getpid())}
    kept, vanishing = (
        docker_client.containers.create(docker_settings.redis_image, labels=labels) for _ in range(2)
    )
    inspect = docker_client.api.inspect_container

    def removed_first(container_id: str) -> object:
        if container_id == vanishing.id:
            docker_client.api.remove_container(container_id, force=True)
        return inspect(container_id)

    monkeypatch.setattr(docker_client.api, "inspect_container", removed_first)
    try:
        assert [container.id for container in golive_containers(docker_client, run)] == [kept.id]
    finally:
        monkeypatch.undo()
        for container in golive_containers(docker_client, run):
            remove(container)
