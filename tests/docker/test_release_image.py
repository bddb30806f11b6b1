"""`--image`: golive validates a team's release image, a backend that is not the reference one.

The team's image is built here as a team would build theirs: the reference backend's source as
another package (`teamapp`, its own title), its own default port and its own migration entry point,
on the reference image's Python. Its replicas run as containers of that image, its databases are
migrated and its accounts made by that image's own commands, and golive reads its source (`--app`)
only for what the drills and tokens need.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from golive.core import http_clients
from golive.fixtures.network import wait_until
from golive.fixtures.providers.docker.engine import OWNER_LABEL, RUN_LABEL, SERVICE_LABEL, golive_containers
from golive.fixtures.providers.local.scratch import scratch_dirs
from golive.images.build import Builder
from golive.images.catalog import BY_NAME
from tests.harness.golive import GOLIVE, first_line, log_in, run_golive, stop
from tests.harness.test_backend_contract import TITLE, team_backend

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("no_leftovers")]

TEAM_IMAGE = "golive-test/team-backend:release"
# The same image, served the way a hurried Dockerfile serves it: uvicorn's defaults, which believe
# X-Forwarded-For from any loopback peer. Nothing in the source is wrong.
TRUSTING_IMAGE = "golive-test/team-backend:trusts-forwarded-headers"
MIGRATE = "python -m teamapp.manage migrate"
CREATE_USER = 'python -m teamapp.manage create-user "$GOLIVE_USERNAME" --role "$GOLIVE_ROLE"'
PROVISION = shlex.join(["sh", "-c", f'printf "%s\\n" "$GOLIVE_PASSWORD" | {CREATE_USER}'])

DOCKERFILE = """FROM {base}
USER root
RUN rm -rf /app/system_under_test
COPY teamapp /app/teamapp
USER nobody
CMD ["sh", "-c", "exec uvicorn teamapp.main:app --host ${{HOST:-0.0.0.0}} --port ${{PORT:-8080}} {options}"]
"""
SERVED_AS_DEPLOYED = "--no-proxy-headers --http teamapp.http_limits:LimitedHttpToolsProtocol"


@pytest.fixture(scope="module")
def project(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The team's checkout (`teamapp`), and its two images built from it."""
    reference = BY_NAME["backend"]
    try:
        docker_client.images.get(BY_NAME[reference.base or ""].tag)
    except docker.errors.ImageNotFound:
        pytest.skip(f"no {reference.base} to build on (`golive images build python`)")
    Builder(docker_client, tmp_path_factory.mktemp("build"), None).build(reference)  # this checkout's
    project = team_backend(tmp_path_factory.mktemp("team"))
    for tag, options in ((TEAM_IMAGE, SERVED_AS_DEPLOYED), (TRUSTING_IMAGE, "")):
        (project / "Dockerfile").write_text(DOCKERFILE.format(base=reference.tag, options=options))
        docker_client.images.build(path=str(project), tag=tag, rm=True, forcerm=True)
    yield project
    for tag in (TEAM_IMAGE, TRUSTING_IMAGE):
        docker_client.images.remove(tag, force=True)


def golive(project: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return run_golive(*args, cwd=project, timeout=timeout, env={"COLUMNS": "300"})


def team_options(image: str = TEAM_IMAGE) -> list[str]:
    return [
        "--app",
        "teamapp.main:app",
        "--image",
        image,
        "--migrate-cmd",
        MIGRATE,
        "--provision-cmd",
        PROVISION,
    ]


def test_each_replica_is_a_container_of_the_image_and_none_outlives_golive(
    project: Path, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [*GOLIVE, "up", "--json", "--replicas", "2", "--run-dir", str(tmp_path / "run"), *team_options()],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stack = first_line(process)
        for url in stack["sut_replicas"]:
            document = http_clients.get(f"{url}/openapi.json", timeout=30).json()
            assert document["info"]["title"] == TITLE
        login = log_in(stack, "admin")
        # An account the image's own command made, in a database the image's own command migrated.
        assert login.status_code == 200, login.text
        mine = [
            container
            for container in golive_containers(docker_client)
            if container.labels.get(OWNER_LABEL) == str(process.pid)
        ]
        assert sorted(container.labels[SERVICE_LABEL] for container in mine) == ["backend-0", "backend-1"]
        assert {container.attrs["Config"]["Image"] for container in mine} == {TEAM_IMAGE}
    finally:
        stop(process, 2)
    assert process.returncode == 0


def test_the_images_containers_go_when_golive_is_killed_outright(
    project: Path, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [*GOLIVE, "up", "--json", "--run-dir", str(tmp_path / "run"), *team_options()],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first_line(process)
        runs = {
            container.labels[RUN_LABEL]
            for container in golive_containers(docker_client)
            if container.labels.get(OWNER_LABEL) == str(process.pid)
        }
        assert len(runs) == 1
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    (run,) = runs
    try:
        wait_until(
            lambda: True if not golive_containers(docker_client, run) else None,
            timeout=60,
            what="the reaper to remove the image's containers",
        )
    finally:
        # What `golive clean` would remove of this run: the local servers' temp dirs.
        for left in scratch_dirs():
            if left.belongs_to(tmp_path / "run"):
                shutil.rmtree(left.path, ignore_errors=True)


@pytest.mark.nightly  # about 4.5 minutes: each of the ~90 replicas a whole container start
@pytest.mark.timeout(900)
def test_validate_says_go_for_the_release_image_with_every_gate_run(project: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = golive(project, "validate", "--quick", "--run-dir", str(run), *team_options(), timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "GO"
    assert all(gate["status"] == "pass" for gate in summary["gates"]), summary["gates"]
    environment = summary["environment"]
    assert (environment["backend_image"], environment["migrate_command"]) == (TEAM_IMAGE, MIGRATE)


@pytest.mark.timeout(600)
def test_validate_says_no_go_for_an_image_served_unlike_its_source(project: Path, tmp_path: Path) -> None:
    """The source is the same: only the image's command differs, and only the image says so."""
    run = tmp_path / "run"
    options = team_options(TRUSTING_IMAGE)
    done = golive(
        project,
        "validate",
        "--quick",
        "--gate",
        "rate-limiting",
        "--run-dir",
        str(run),
        *options,
        timeout=540,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "NO-GO"
    failed = [gate["id"] for gate in summary["gates"] if gate["status"] == "fail"]
    assert failed == ["rate-limiting"], summary["gates"]
