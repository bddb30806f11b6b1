"""`--image`, `--migrate-cmd` and `--provision-cmd`: the replicas served by the team's release
image, the databases migrated and the accounts made by the team's own commands.

Here without a Docker engine: a stand-in `docker` on PATH runs what `docker run` would run in the
image (the reference backend's server, or the command given), with only the variables golive
passed by name and a PATH, as a container would have them. So these tests hold what golive asks of
docker, and that the settings it passes are all a replica needs. The real image on a real engine:
tests/docker/test_backend_image.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import golive.system_under_test as reference
from golive.core import http_clients
from golive.fixtures import image_replica
from golive.fixtures.image_replica import backend_settings
from golive.fixtures.network import NotReady
from tests.harness.golive import first_line, log_in, run_golive, spawn_up, stop
from tests.harness.leaks import assert_no_survivors, new_marker

IMAGE = "team/backend:release"

FAKE_DOCKER = f"""#!{sys.executable}
import os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:2] == ["image", "inspect"]:
    if args[-1] != {IMAGE!r}:
        sys.exit("Error response from daemon: No such image: " + args[-1])
    print("sha256:" + "0" * 64)
    sys.exit(0)
if args[0] == "rm":
    sys.exit(0)
assert args[0] == "run", args
index, names = 1, []
while args[index].startswith("-"):
    if args[index] == "--rm":
        index += 1
        continue
    if args[index] == "-e":
        names.append(args[index + 1])
    index += 2
image, command = args[index], args[index + 1:]
# As in a container: only what was passed, and the image's own PATH.
env = {{name: os.environ[name] for name in names if name in os.environ}}
env["PATH"] = os.environ["PATH"]
env["PASSED"] = " ".join(names)
if not command and "FAKE_DOCKER_COMMAND" in os.environ:  # an image with a command of its own
    os.execve("/bin/sh", ["/bin/sh", "-c", os.environ["FAKE_DOCKER_COMMAND"]], env)
if not command:  # the image's own command: the reference backend's Dockerfile CMD
    command = ["{sys.executable}", "-m", "uvicorn", "golive.system_under_test.main:app",
               "--host", env["HOST"], "--port", env["PORT"], "--no-proxy-headers"]
    print("served-from-the-image", flush=True)
os.execve(shutil.which(command[0]) or command[0], command, env)
"""


@pytest.fixture
def fake_docker(tmp_path: Path) -> dict[str, str]:
    """The environment that puts the stand-in `docker` first on PATH, logging its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DOCKER_LOG": str(tmp_path / "docker.log"),
    }


def docker_calls(env: dict[str, str]) -> list[str]:
    return Path(env["FAKE_DOCKER_LOG"]).read_text().splitlines()


MIGRATE = f"{sys.executable} -m golive.system_under_test.manage migrate"
PROVISION = (
    f'printf "%s\\n" "$GOLIVE_PASSWORD" | {sys.executable} -m golive.system_under_test.manage '
    'create-user "$GOLIVE_USERNAME" --role "$GOLIVE_ROLE"'
)


def test_the_replicas_are_the_image_and_the_image_migrates_the_database(
    tmp_path: Path, fake_docker: dict[str, str]
) -> None:
    marker = new_marker()
    run = tmp_path / "run"
    process = spawn_up(
        run, marker, "--image", IMAGE, "--migrate-cmd", MIGRATE,
        "--provision-cmd", f"sh -c {shlex.quote(PROVISION)}", "--replicas", "2", env=fake_docker,
    )  # fmt: skip
    try:
        stack = first_line(process)
        for url in stack["sut_replicas"]:
            assert http_clients.get(f"{url}/health", timeout=30).json()["data"]["status"] == "healthy"
        login = log_in(stack, "admin")
        assert login.status_code == 200, login.text  # accounts in the database the image migrated
    finally:
        stop(process, 2)
    assert process.returncode == 0
    assert_no_survivors(marker)
    runs = [call for call in docker_calls(fake_docker) if call.startswith("run ")]
    migrations = [call for call in runs if call.endswith(f"{IMAGE} {MIGRATE}")]
    assert len(migrations) == 1, runs  # the template database, cloned for every other
    assert "-e DATABASE_URL" in migrations[0]
    provisions = [call for call in runs if "create-user" in call]
    assert len(provisions) >= 2, runs  # the template's accounts and the stack's, one command each
    for call in provisions:
        assert "-e GOLIVE_PASSWORD" in call
        assert "-e GOLIVE_USERNAME" in call
    logged = Path(fake_docker["FAKE_DOCKER_LOG"]).read_text()
    assert stack["users"]["admin"]["password"] not in logged  # passed by name, never as a word
    served = [call for call in runs if call.endswith(IMAGE)]
    assert len(served) == 2, runs
    for call in served:
        assert call.startswith("run --rm --network host --name golive-"), call
        for passed in ("-e DATABASE_URL", "-e REDIS_URL", "-e JWT_SECRET", "-e HOST", "-e PORT"):
            assert passed in call
        assert "-e PATH" not in call  # the image's own
        assert "-e HOME" not in call
        assert "--label golive.run=" in call
    assert "served-from-the-image" in (run / "logs" / "sut-0.log").read_text()
    removed = [call for call in docker_calls(fake_docker) if call.startswith("rm --force golive-")]
    assert len(removed) == 2  # each replica's container, had `docker run` not taken it along


def test_a_migration_command_runs_on_this_machine_without_an_image(tmp_path: Path) -> None:
    marker = new_marker()
    proof = tmp_path / "migrated"
    command = f'echo "$DATABASE_URL" > {proof}; exec {MIGRATE}'
    process = spawn_up(tmp_path / "run", marker, "--migrate-cmd", command)
    try:
        stack = first_line(process)
        login = log_in(stack, "user")
        assert login.status_code == 200, login.text
    finally:
        stop(process, 2)
    assert process.returncode == 0
    assert proof.read_text().startswith("postgresql://")
    assert_no_survivors(marker)


def test_a_migration_command_that_fails_is_one_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    failing = "echo no alembic.ini in this image >&2; exit 4"
    done = run_golive(
        "up", "--migrate-cmd", failing, "--run-dir", str(tmp_path / "run"), env=marker, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "golive up: the stack did not start" in done.stderr
    assert "exited with 4" in done.stderr
    assert "no alembic.ini in this image" in done.stderr  # the end of its output: why
    assert "Traceback" not in done.stderr
    assert_no_survivors(marker)


def test_an_image_the_engine_does_not_have_is_named_before_anything_starts(
    tmp_path: Path, fake_docker: dict[str, str]
) -> None:
    done = run_golive(
        "up", "--image", "team/backend:typo", "--run-dir", str(tmp_path / "run"), env=fake_docker
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "golive up: --image: image team/backend:typo is not on the Docker engine (Error response from "
        "daemon: No such image: team/backend:typo): build or pull it first"
    ]
    assert not (tmp_path / "run" / "logs").exists()


def test_an_image_without_a_docker_command_is_one_line(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    done = subprocess.run(
        [sys.executable, "-m", "golive", "validate", "--image", IMAGE],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": str(bin_dir)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "golive validate: --image: no `docker` command on PATH (the docker CLI runs the image's replicas)"
    )


TARGET = "http://127.0.0.1:9"
STARTED_AND_TARGET = "names a backend golive starts; --target validates a deployment: give one"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--image", IMAGE, "--backend-cmd", "serve"],
            "--backend-cmd and --image both say how replicas are served: give one",
        ),
        (["--migrate-cmd", " "], "--migrate-cmd: empty (give the command that migrates to head)"),
        (["--image", IMAGE, "--target", TARGET], f"--image {STARTED_AND_TARGET}"),
        (["--migrate-cmd", "m", "--target", TARGET], f"--migrate-cmd {STARTED_AND_TARGET}"),
    ],
)
def test_options_that_contradict_each_other_are_one_line(
    args: list[str], message: str, fake_docker: dict[str, str]
) -> None:
    done = run_golive("validate", *args, env=fake_docker)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"golive validate: {message}"]


def test_only_the_backends_settings_reach_the_container() -> None:
    environ = {"PATH": "/usr/bin", "HOME": "/root", "LOG_LEVEL": "DEBUG", "EDITOR": "vi", "PYTHONPATH": "/x"}
    env = {**environ, "DATABASE_URL": "postgresql://x", "PYTHONPATH": "/golive", "PYTHONUNBUFFERED": "1"}
    # Set by golive (changed or new), or read by the backend's Settings; never the image's own.
    assert backend_settings(env, environ) == ["DATABASE_URL", "LOG_LEVEL", "PYTHONUNBUFFERED"]


def without_contract_entries(project: Path) -> Path:
    """The reference backend as `teamapp`, laid out otherwise: no `db.migrate.upgrade` and no
    `manage.create_user_at` (its own CLI still migrates and makes accounts)."""
    source = Path(reference.__file__).parent
    package = project / "teamapp"
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__", "tests", "Dockerfile"))
    for relative, old, new in (
        ("db/migrate.py", "def upgrade(", "def upgrade_to("),
        ("manage.py", "migrate.upgrade(", "migrate.upgrade_to("),
        ("manage.py", "create_user_at", "make_user"),
    ):
        path = package / relative
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    return project


TEAM_MIGRATE = f"{sys.executable} -m teamapp.manage migrate"
TEAM_PROVISION = PROVISION.replace("golive.system_under_test.manage", "teamapp.manage")


def test_a_backend_laid_out_otherwise_names_its_migration_and_provisioning_commands(tmp_path: Path) -> None:
    project = without_contract_entries(tmp_path / "project")
    refused = subprocess.run(
        [sys.executable, "-m", "golive", "up", "--app", "teamapp.main:app"],
        cwd=project, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "missing: teamapp.db.migrate:upgrade, teamapp.manage:create_user_at" in refused.stderr
    marker = new_marker()
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "up", "--json", "--app", "teamapp.main:app", "--run-dir",
         str(tmp_path / "run"), "--migrate-cmd", TEAM_MIGRATE, "--provision-cmd", TEAM_PROVISION],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **marker},
    )  # fmt: skip
    try:
        stack = first_line(process)
        for role in ("admin", "user"):
            login = log_in(stack, role)
            assert login.status_code == 200, login.text
            me = http_clients.get(
                f"{stack['sut']}/api/v1/auth/me",
                headers={"Authorization": f"Bearer {login.json()['data']['access_token']}"},
                timeout=30,
            )
            assert me.json()["data"]["role"] == role  # made with the role it was given
    finally:
        stop(process, 2)
    assert process.returncode == 0
    assert_no_survivors(marker)


def test_a_provisioning_command_that_makes_no_account_is_one_clear_error(tmp_path: Path) -> None:
    marker = new_marker()
    done = run_golive(
        "up",
        "--provision-cmd",
        "echo nothing made",
        "--run-dir",
        str(tmp_path / "run"),
        env=marker,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "golive up: the stack did not start" in done.stderr
    assert "`echo nothing made` exited with 0, but made no user golive-template-" in done.stderr
    assert "Traceback" not in done.stderr
    assert_no_survivors(marker)


def test_an_image_that_serves_on_a_port_of_its_own_is_told_to_serve_on_port(
    tmp_path: Path, fake_docker: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake_docker.items():
        monkeypatch.setenv(name, value)
    # Not golive's run and reaper: this test's labels, nothing left running after it.
    monkeypatch.setattr(image_replica._RUN, "watched", lambda: {"golive.run": "test", "golive.service": "x"})
    command = (
        f"exec {sys.executable} -c \"print('listening on 8009', flush=True); import time; time.sleep(60)\""
    )
    env = {**os.environ, "FAKE_DOCKER_COMMAND": command}
    replica = image_replica.ImageReplica(0, env, tmp_path, tmp_path, IMAGE)
    with pytest.raises(NotReady) as failed:
        replica.start(timeout=2)
    port = replica.url.rsplit(":", 1)[-1]
    assert f"an image must serve on $PORT ({port} here) and $HOST, and {IMAGE} did not" in str(failed.value)
    assert "listening on 8009" in str(failed.value)  # the end of its log
    assert replica.process is None
