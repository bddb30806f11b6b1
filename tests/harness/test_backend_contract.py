"""The backend contract (fixtures/backend.py): golive runs a team's own backend, named by --app, from
the team's directory; a backend that misses part of the contract is refused before anything
starts, with what it misses named.

The second backend is the reference backend's source copied under another package name, with its
own title: every way golive reaches a backend (serving it, migrating, provisioning accounts,
minting tokens, the OpenAPI document) has to go through the contract for it to run at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import golive.system_under_test as reference
from golive.core import http_clients
from golive.fixtures.backend import REFERENCE_APP, Backend, BackendError
from golive.fixtures.network import NotReady
from golive.fixtures.sut import CommandReplica, declared_preload
from golive.stages.preflight import settings_problems
from tests.harness.golive import first_line, log_in, run_golive, stop
from tests.harness.leaks import assert_no_survivors, new_marker

# The console script, as a team runs it: unlike `python -m golive`, it does not put the current
# directory on sys.path, so golive has to make the team's package importable itself.
GOLIVE = Path(sys.executable).parent / "golive"
TITLE = "Team backend (a second backend meeting golive's contract)"


def team_backend(project: Path, package: str = "teamapp") -> Path:
    """The reference backend's source as `package` in `project`, under its own title."""
    source = Path(reference.__file__).parent
    target = project / package
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "tests", "Dockerfile"))
    app = target / "app.py"
    original = 'title="ToolboxAI backend (golive reference implementation)"'
    assert original in app.read_text()
    app.write_text(app.read_text().replace(original, f"title={TITLE!r}"))
    return project


def golive(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_golive(*args, cwd=project, timeout=timeout, env={"COLUMNS": "300"}, program=[str(GOLIVE)])


@pytest.mark.parametrize("app", ["teamapp", "teamapp.main", "teamapp.main:application", "1team.main:app"])
def test_an_app_that_is_not_package_main_app_is_refused(app: str) -> None:
    with pytest.raises(BackendError, match=r"is not PACKAGE\.main:app"):
        Backend.from_app(app)


def test_the_reference_backend_meets_the_contract() -> None:
    backend = Backend.current({})
    assert backend.is_reference
    assert backend.problems() == []


def test_a_backend_missing_entries_is_told_which(tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "__init__.py").write_text("")
    (partial / "main.py").write_text("app = object()\n")
    (partial / "settings.py").write_text("class Settings: ...\n")
    done = golive(tmp_path, "up", "--app", "partial.main:app", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "golive up: --app: partial.main:app does not meet golive's backend contract (README: Validate "
        "your own backend): missing: partial.app:create_app, partial.db.migrate:upgrade, "
        "partial.db.migrate:alembic_config, partial.db.models:Base, partial.db.urls:sync_database_url, "
        "partial.manage:create_user_at, partial.security:Role, partial.security:issue_token, "
        "partial.security:JwtConfig, partial.security:Principal, partial/alembic.ini"
    ]
    assert not (tmp_path / "run").exists()  # nothing started


@pytest.mark.parametrize(
    ("app", "problem"),
    [
        ("nosuchpackage.main:app", "no package 'nosuchpackage' importable from here"),
        ("teamapp", "'teamapp' is not PACKAGE.main:app"),
    ],
)
def test_an_app_golive_cannot_run_is_one_line(tmp_path: Path, app: str, problem: str) -> None:
    done = golive(tmp_path, "validate", "--quick", "--app", app, "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("golive validate: --app: ")
    assert problem in lines[0]
    assert "Traceback" not in done.stderr


def test_up_runs_a_second_backend_from_the_teams_directory(tmp_path: Path) -> None:
    project = team_backend(tmp_path / "project")
    marker = new_marker()
    run = tmp_path / "run"
    process = subprocess.Popen(
        [str(GOLIVE), "up", "--json", "--app", "teamapp.main:app", "--replicas", "2", "--run-dir", str(run)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker},
    )
    try:
        stack = first_line(process)
        for url in stack["sut_replicas"]:
            document = http_clients.get(f"{url}/openapi.json", timeout=30).json()
            assert document["info"]["title"] == TITLE  # the team's backend serves, not the reference
            assert http_clients.get(f"{url}/health", timeout=30).json()["data"]["status"] == "healthy"
        # Accounts provisioned by the team's own account code, in a database its migrations made.
        login = log_in(stack, "admin")
        assert login.status_code == 200, login.text
    finally:
        stop(process, 2)
    assert process.returncode == 0
    assert_no_survivors(marker)


# The team's own way to serve a replica: its server, its options (here uvicorn with two worker
# processes), a line of its own in the log; HOST and PORT from golive.
TEAM_COMMAND = (
    f"echo served-by-the-team-command; exec {sys.executable} -m uvicorn teamapp.main:app "
    "--host $HOST --port $PORT --workers 2"
)


def test_up_serves_a_backend_with_the_teams_own_command(tmp_path: Path) -> None:
    project = team_backend(tmp_path / "project")
    marker = new_marker()
    run = tmp_path / "run"
    process = subprocess.Popen(
        [str(GOLIVE), "up", "--json", "--app", "teamapp.main:app", "--backend-cmd", TEAM_COMMAND,
         "--run-dir", str(run)],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **marker},
    )  # fmt: skip
    try:
        stack = first_line(process)
        document = http_clients.get(f"{stack['sut']}/openapi.json", timeout=30).json()
        assert document["info"]["title"] == TITLE
        assert "served-by-the-team-command" in (run / "logs" / "sut-0.log").read_text()
        login = log_in(stack, "admin")
        assert login.status_code == 200, login.text
    finally:
        stop(process, 2)
    assert process.returncode == 0
    assert_no_survivors(marker)  # the command's shell and both of its workers included


def test_a_command_that_does_not_serve_is_one_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    done = subprocess.run(
        [str(GOLIVE), "up", "--backend-cmd", "echo no such server here >&2; exit 3",
         "--run-dir", str(tmp_path / "run")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, **marker},
    )  # fmt: skip
    assert done.returncode == 1
    assert "golive up: the stack did not start: backend replica 0" in done.stderr
    assert "exited with 3" in done.stderr
    assert "no such server here" in done.stderr  # the end of its log: why
    assert "Traceback" not in done.stderr
    assert_no_survivors(marker)


# Validated with every gate by its own command (one process per replica, as the backend's image
# serves it) in scripts/check-wheel.sh, from the wheel installed outside the checkout: a CI step.


MUTANTS = Path(__file__).parents[1] / "mutants"


def test_validate_says_no_go_to_a_second_backend_that_breaks_the_guide(tmp_path: Path) -> None:
    """The team's backend with a defect of the catalogue (an error envelope's request id is not the
    request's): a validation of the gate that judges it fails that gate, and names the backend."""
    project = team_backend(tmp_path / "project")
    patch = (
        (MUTANTS / "01-error-request-id-regenerated.patch")
        .read_text()
        .replace("system_under_test/", "teamapp/")
    )
    subprocess.run(
        ["patch", "-p1", "--batch", "-d", str(project)],
        input=patch,
        text=True,
        capture_output=True,
        check=True,
    )
    run = tmp_path / "run"
    done = golive(
        project, "validate", "--quick", "--gate", "envelope", "--app", "teamapp.main:app",
        "--run-dir", str(run), timeout=600,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "NO-GO"
    assert [gate["id"] for gate in summary["gates"] if gate["status"] == "fail"] == ["envelope"]
    assert summary["environment"]["backend"] == "teamapp.main:app"


@pytest.mark.parametrize(("option", "value"), [("--app", "teamapp.main:app"), ("--backend-cmd", "serve")])
def test_a_backend_to_start_and_a_target_together_are_refused(
    tmp_path: Path, option: str, value: str
) -> None:
    done = golive(tmp_path, "validate", option, value, "--target", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"golive validate: {option} names a backend golive starts; --target validates a deployment: give one"
    ]


def test_an_empty_backend_command_is_refused(tmp_path: Path) -> None:
    done = golive(tmp_path, "up", "--backend-cmd", " ")
    assert done.returncode == 2
    assert done.stderr.strip() == "golive up: --backend-cmd: empty (give the command that serves one replica)"


def test_a_backend_whose_code_fails_to_import_is_one_line(tmp_path: Path) -> None:
    project = team_backend(tmp_path / "project")
    (project / "teamapp" / "security.py").write_text("def broken(:\n")
    done = golive(project, "up", "--app", "teamapp.main:app", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    # Its first module to import security (app.py) says so, with the file and line at fault.
    assert lines[0].endswith(
        "does not meet golive's backend contract (README: Validate your own backend): "
        "teamapp.app fails to import: SyntaxError: invalid syntax (security.py, line 1)"
    )


def test_two_threads_importing_the_backend_each_get_whole_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stacks started side by side import the account code in two threads at once: two threads
    in a package's import cycle (as FastAPI has) gave one of them a partially initialized module
    ("cannot import name ... most likely due to a circular import"), unless they take turns."""
    package = tmp_path / "cyclic_backend"
    package.mkdir()
    (package / "__init__.py").write_text("")
    # a imports b at its end, b imports a at its start: harmless in one thread.
    (package / "a.py").write_text("import time\ntime.sleep(0.4)\nA = 1\nfrom cyclic_backend.b import B\n")
    (package / "b.py").write_text("from cyclic_backend.a import A\nB = 2\n")
    monkeypatch.syspath_prepend(tmp_path)
    backend = Backend("cyclic_backend")
    failures: list[BaseException] = []

    def load(name: str) -> None:
        try:
            backend.module(name)
        except BaseException as error:
            failures.append(error)

    first = threading.Thread(target=load, args=("a",))
    second = threading.Thread(target=load, args=("b",))
    first.start()
    time.sleep(0.1)  # a is being imported, and sleeps
    second.start()
    first.join(10)
    second.join(10)
    assert failures == []
    assert backend.attribute("a", "A") == 1
    assert backend.attribute("b", "B") == 2


def test_a_bad_setting_of_a_backend_that_words_no_settings_errors_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = team_backend(tmp_path / "project", "plainsettings")
    settings = project / "plainsettings" / "settings.py"
    settings.write_text(settings.read_text().replace("def describe_settings_error(", "def _worded("))
    monkeypatch.syspath_prepend(project)
    monkeypatch.setenv("GOLIVE_APP", "plainsettings.main:app")
    problems = settings_problems({"JWT_SECRET": "x" * 40, "RETRY_MAX_ATTEMPTS": "many"}, {})
    assert len(problems) == 1
    assert problems[0].startswith("RETRY_MAX_ATTEMPTS: Input should be a valid integer")


def test_a_backend_declares_the_modules_its_replicas_may_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert declared_preload(REFERENCE_APP) == ("golive.system_under_test.app",)
    assert declared_preload("golive.system_under_test.legacy:app") == ()  # not a backend's main
    shared = ("sharing_backend.models", "sharing_backend.routes")
    for name, declaration, expected in (
        ("quiet_backend", "", ()),
        ("sharing_backend", 'GOLIVE_PRELOAD = ["models", "routes"]', shared),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(declaration)
        monkeypatch.syspath_prepend(tmp_path)
        assert declared_preload(f"{name}.main:app") == expected
    (tmp_path / "odd_backend").mkdir()
    (tmp_path / "odd_backend" / "__init__.py").write_text('GOLIVE_PRELOAD = "app"')
    with pytest.raises(BackendError, match=r"odd_backend.GOLIVE_PRELOAD is not a tuple of module names"):
        declared_preload("odd_backend.main:app")


# Serves /health on $PORT, saying which process it is.
SERVER = """
import http.server, os, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[1].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
"""
CONNECTS = 'import os, socket; socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))'
# The first start finds its port taken (a server of another session binds it first, as another
# program may between golive closing the port and the command binding it): its own server then
# fails to bind and exits. The second start serves.
SQUATTED_ONCE = f"""
if [ ! -e squatter.pid ]; then
  ( setsid {sys.executable} -c '{SERVER}' squatter & echo $! > squatter.pid )
  until {sys.executable} -c '{CONNECTS}' 2>/dev/null; do sleep 0.05; done
fi
exec {sys.executable} -c '{SERVER}' command
"""


# The first start loses its port to a connection that is gone by the time golive looks (an
# outbound connection's local end, say): only its log says why it exited.
LOST_ONCE = f"""
if [ ! -e lost.once ]; then
  touch lost.once
  echo "[Errno 98] error while attempting to bind on address ('$HOST', $PORT): address already in use"
  exit 3
fi
exec {sys.executable} -c '{SERVER}' command
"""


@pytest.mark.parametrize(
    ("command", "logged"),
    [(SQUATTED_ONCE, "Address already in use"), (LOST_ONCE, "address already in use")],
    ids=["still-held", "taken-for-a-moment"],
)
def test_a_replica_whose_port_someone_took_first_is_started_again_on_another(
    tmp_path: Path, command: str, logged: str
) -> None:
    """Whatever answers on the port, the replica is ready only when its own process does."""
    replica = CommandReplica(0, dict(os.environ), tmp_path, tmp_path, command)
    try:
        replica.start(timeout=30)
        assert http_clients.get(f"{replica.url}/health", timeout=10).text == "command"
    finally:
        replica.stop()
        squatter = tmp_path / "squatter.pid"
        if squatter.exists():
            os.kill(int(squatter.read_text()), 9)
    assert logged in (tmp_path / "sut-0.log").read_text()  # the first start's


def test_a_command_that_fails_for_another_reason_is_not_started_again(tmp_path: Path) -> None:
    command = "echo started >> starts; echo 'RuntimeError: no DATABASE_URL'; exit 3"
    replica = CommandReplica(0, dict(os.environ), tmp_path, tmp_path, command)
    with pytest.raises(NotReady, match=r"backend replica 0 exited with 3:\nRuntimeError: no DATABASE_URL"):
        replica.start(timeout=30)
    assert (tmp_path / "starts").read_text() == "started\n"
