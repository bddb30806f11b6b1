"""The backend image as a deployment runs it: built from the repository's Dockerfile (on golive's
local Python base), migrated by a one-shot container as docker-compose.yml does, then healthy by
the image's own HEALTHCHECK and passing the contract suite from outside (`--sut-url`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from golive.core import http_clients
from golive.core.junit import CONTRACT
from golive.fixtures.description import StackDescription
from golive.fixtures.network import wait_until
from golive.fixtures.providers.docker.container import ContainerService, publish_on_loopback
from golive.fixtures.providers.docker.engine import configure_testcontainers, new_run_labels
from golive.fixtures.providers.docker.postgres import DockerPostgres
from golive.fixtures.providers.docker.redis import DockerRedis
from golive.fixtures.providers.docker.settings import DockerSettings
from golive.fixtures.stack import FUNCTIONAL_HEADROOM
from golive.images.build import Builder
from golive.images.catalog import BY_NAME
from golive.stages.suites import run_suite

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("no_leftovers")]

BACKEND = BY_NAME["backend"]
PORT = 8009
SECOND = 1_000_000_000  # Docker's health-check durations are in nanoseconds


@pytest.fixture(scope="module")
def backend_image(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Built now, so the image holds this checkout's code (layers cached: seconds when unchanged)."""
    base = BY_NAME[BACKEND.base or ""].tag
    try:
        docker_client.images.get(base)
    except docker.errors.ImageNotFound:
        pytest.skip(f"no {base} to build on (`golive images build python`)")
    Builder(docker_client, tmp_path_factory.mktemp("build"), None).build(BACKEND)  # no base to make
    return BACKEND.tag


class Deployment:
    """Postgres, Redis and the backend on a network of their own; only the backend's port is
    published (on the host's loopback)."""

    def __init__(self, image: str, settings: DockerSettings, log_dir: Path) -> None:
        configure_testcontainers(settings.docker_start_timeout)
        self.image = image
        self.log_dir = log_dir
        self.labels = new_run_labels()
        self.network = Network(docker_network_kw={"labels": self.labels})
        self.postgres = DockerPostgres(settings.postgres_image, self.labels, log_dir)
        self.redis = DockerRedis(settings.redis_image, self.labels, log_dir)
        self.backend: ContainerService[DockerContainer] | None = None
        self.env: dict[str, str] = {}
        self.url = ""

    def start(self) -> Deployment:
        self.network.create()
        for service, alias in ((self.postgres, "postgres"), (self.redis, "redis")):
            service.container.with_network(self.network).with_network_aliases(alias)
        self.postgres.start()
        self.redis.start()
        self.env = {
            "DATABASE_URL": f"postgresql://postgres:{self.postgres.password}@postgres:5432/postgres",
            "REDIS_URL": "redis://redis:6379/0",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "AI_SERVICE_URL": "http://ai-service.invalid:8000",
            "PUSHER_APP_ID": "1",
            "PUSHER_KEY": "key",
            "PUSHER_SECRET": secrets.token_urlsafe(16),
            # A staging deployment for functional tests: the guide's rate limits would throttle them.
            **FUNCTIONAL_HEADROOM,
        }
        self._one_shot("migrate", ["python", "-m", "system_under_test.manage", "migrate"])
        container = (
            DockerContainer(
                self.image,
                labels=self.labels,
                # The image's own check, run often enough for a test (it checks every 30 s).
                healthcheck={"interval": SECOND // 2, "start_period": 30 * SECOND},
            )
            .with_envs(**self.env)
            .with_network(self.network)
        )
        publish_on_loopback(container, PORT)
        self.backend = ContainerService("backend", container, self.labels, self.log_dir)
        self.backend.run_container()
        self.url = f"http://127.0.0.1:{self.backend.mapped_port(PORT)}"
        return self

    def _one_shot(self, name: str, command: list[str]) -> None:
        job = ContainerService(
            name,
            DockerContainer(self.image, labels=self.labels).with_envs(**self.env).with_network(self.network),
            self.labels,
            self.log_dir,
        )
        job.container.with_command(command)
        job.run_container()
        try:
            status = job.container.get_wrapped_container().wait(timeout=120)
            assert status["StatusCode"] == 0, f"{name} exited {status['StatusCode']}: {job.logs_tail()}"
        finally:
            job.stop()

    def health(self) -> str:
        assert self.backend is not None
        wrapped = self.backend.container.get_wrapped_container()
        wrapped.reload()
        return str(wrapped.attrs["State"].get("Health", {}).get("Status", "none"))

    def create_user(self, username: str, password: str, role: str) -> None:
        assert self.backend is not None
        result = self.backend.container.get_wrapped_container().exec_run(
            ["sh", "-c", 'printf "%s\\n" "$PASSWORD" | python -m system_under_test.manage create-user "$@"',
             "create-user", username, "--role", role],
            environment={"PASSWORD": password},
        )  # fmt: skip
        output = result.output if isinstance(result.output, bytes) else b""
        assert result.exit_code == 0, output.decode()

    def stop(self) -> None:
        for service in (self.backend, self.redis, self.postgres):
            if service is not None:
                service.stop()
        self.network.remove()


@pytest.fixture(scope="module")
def deployment(
    backend_image: str, docker_settings: DockerSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    deployment = Deployment(backend_image, docker_settings, tmp_path_factory.mktemp("logs"))
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def test_the_container_becomes_healthy_by_the_images_own_check(deployment: Deployment) -> None:
    status = wait_until(
        lambda: deployment.health() if deployment.health() in ("healthy", "unhealthy") else None,
        timeout=60,
        what="the backend container's health check",
    )
    assert status == "healthy"
    health = http_clients.get(f"{deployment.url}/health", timeout=10).json()["data"]
    # Its own database and Redis, over the deployment's network (the AI service is made up).
    assert health["dependencies"]["database"]["status"] == "up"
    assert health["dependencies"]["redis"]["status"] == "up"
    wrapped = deployment.backend.container.get_wrapped_container() if deployment.backend else None
    assert wrapped is not None
    assert wrapped.attrs["Config"]["User"] == "nobody"


def test_the_contract_suite_passes_against_the_container(deployment: Deployment, tmp_path: Path) -> None:
    wait_until(
        lambda: True if deployment.health() == "healthy" else None, timeout=60, what="a healthy backend"
    )
    users = {role: (f"image-{role}", secrets.token_urlsafe(16)) for role in ("admin", "user")}
    for role, (username, password) in users.items():
        deployment.create_user(username, password, role)
    environ = {
        f"GOLIVE_{role.upper()}_{field}": value
        for role, (username, password) in users.items()
        for field, value in (("USERNAME", username), ("PASSWORD", password))
    }
    stack_file = tmp_path / "stack.json"
    StackDescription.for_deployment(deployment.url, environ).write(stack_file)
    result = run_suite(CONTRACT, stack_file, tmp_path)
    assert result.ok, f"{result.summary()}: {result.failures[:5]} (log: {result.log})"
    assert result.passed >= 10, f"only {result.summary()} against the container"
