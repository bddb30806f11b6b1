"""Replicas forked by the fork server are server processes like any other: their own environment,
process group and log, stopped by the harness, and gone when the harness or the server dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.core import http_clients
from golive.fixtures import forked
from golive.fixtures.clients import BackendFactory
from golive.fixtures.network import listening_socket, wait_until
from golive.fixtures.processes import ChildProcess, running_children
from tests.harness.leaks import running
from tests.harness.test_processes import wait_dead

# A module the children run: says who it is, then exits with the code asked for or sleeps.
CHILD = """
import os, sys, time
fd = int(sys.argv[1])
leader = os.getpgid(0) == os.getpid()
print("greeting", os.environ.get("GREETING"), "leader", leader, "fd", os.fstat(fd) is not None, flush=True)
if sys.argv[2] == "sleep":
    time.sleep(300)
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose PYTHONPATH holds the children's module: a fork server of its own."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "golive_forked_child.py").write_text(CHILD)
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(modules), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def server(child_env: dict[str, str], tmp_path: Path) -> Iterator[forked.ForkServer]:
    server = forked.fork_server(("json",), child_env, tmp_path / "fork-server.log")
    yield server
    server.stop()


def spawn(server: forked.ForkServer, env: dict[str, str], log: Path, behaviour: str) -> forked.ForkedProcess:
    with listening_socket() as listener:
        return server.spawn(
            "child", "golive_forked_child", ["{fd}", behaviour], env=env, cwd=log.parent, log_path=log,
            fd=listener.fileno(),
        )  # fmt: skip


def said(child: forked.ForkedProcess) -> str:
    wait_until(lambda: child.log_tail() or None, timeout=15, what="the child to speak")
    return child.log_tail()


def test_a_child_runs_with_its_own_environment_group_and_socket(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    first = spawn(server, {**child_env, "GREETING": "one"}, tmp_path / "one.log", "3")
    second = spawn(server, {**child_env, "GREETING": "two"}, tmp_path / "two.log", "4")
    assert first.wait() == 3
    assert second.wait() == 4
    assert said(first) == "greeting one leader True fd True"
    assert said(second) == "greeting two leader True fd True"
    assert first.pid != second.pid


def test_a_replica_logs_only_what_the_app_says(golive_start_backend: BackendFactory) -> None:
    # The backend logs JSON lines (LOG_FORMAT=json): the fork server adds nothing of its own.
    cluster = golive_start_backend({"LOG_FORMAT": "json"})
    assert isinstance(cluster.replicas[0].process, forked.ForkedProcess)
    lines = cluster.replicas[0].log_path.read_text().splitlines()
    assert lines
    assert all(line.startswith("{") for line in lines), lines


def test_stop_ends_a_running_child(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    child = spawn(server, child_env, tmp_path / "child.log", "sleep")
    said(child)
    assert child in running_children()
    assert child.stop(timeout=5) == -signal.SIGTERM
    assert not child.is_running()
    assert child not in running_children()
    wait_dead(child.pid)


def test_a_module_that_fails_to_import_is_an_exit_with_its_reason(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    with listening_socket() as listener:
        child = server.spawn(
            "missing", "no_such_module_here", [], env=child_env, cwd=tmp_path, log_path=tmp_path / "m.log",
            fd=listener.fileno(),
        )  # fmt: skip
    assert child.wait() == 1
    reason = child.exit_reason()
    assert reason is not None
    assert reason.endswith(f"{sys.executable}: No module named no_such_module_here")


def test_modules_a_spawn_asks_for_are_imported_by_the_server_first_and_kept(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    modules = Path(child_env["PYTHONPATH"])
    # Says which process imported it: the fork server's, when preloaded there.
    (modules / "golive_preloaded.py").write_text("import os\nIMPORTED_BY = os.getpid()\n")
    (modules / "golive_preload_child.py").write_text(
        "import os, golive_preloaded\nprint(golive_preloaded.IMPORTED_BY == os.getpid(), flush=True)\n"
    )

    def imported_itself(preload: tuple[str, ...], name: str) -> str:
        with listening_socket() as listener:
            child = server.spawn(
                name, "golive_preload_child", [], env=child_env, cwd=tmp_path,
                log_path=tmp_path / f"{name}.log", fd=listener.fileno(), preload=preload,
            )  # fmt: skip
        assert child.wait() == 0, child.log_tail()
        return child.log_tail()

    assert imported_itself((), "first") == "True"  # not asked for: each child imports it
    assert imported_itself(("golive_preloaded",), "second") == "False"  # the server did
    assert imported_itself((), "third") == "False"  # and kept it for later children


def test_modules_to_import_when_idle_are_the_servers_soon_after_it_is_ready(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    modules = Path(child_env["PYTHONPATH"])
    (modules / "golive_idle_import.py").write_text("import os\nIMPORTED_BY = os.getpid()\n")
    (modules / "golive_idle_child.py").write_text(
        "import os, golive_idle_import\nprint(golive_idle_import.IMPORTED_BY == os.getpid(), flush=True)\n"
    )
    server = forked.fork_server(
        ("json",), child_env, tmp_path / "idle-server.log", idle=("golive_idle_import",)
    )
    answers: list[str] = []

    def child_found_it_imported() -> bool:
        with listening_socket() as listener:
            child = server.spawn(
                "idle child", "golive_idle_child", [], env=child_env, cwd=tmp_path,
                log_path=tmp_path / f"idle-{len(answers)}.log", fd=listener.fileno(),
            )  # fmt: skip
        assert child.wait() == 0, child.log_tail()
        answers.append(child.log_tail())
        return answers[-1] == "False"  # another process, the server, had imported it

    try:
        wait_until(child_found_it_imported, timeout=15, what="the server to import the module while idle")
    finally:
        server.stop()
    assert set(answers) <= {"True", "False"}, answers  # before it had: the child's own import


def test_children_die_with_their_fork_server(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    child = spawn(server, child_env, tmp_path / "child.log", "sleep")
    said(child)
    server.stop()
    wait_dead(child.pid)
    assert child.exit_code() == -signal.SIGKILL
    assert not server.is_running()


def test_another_python_environment_gets_another_fork_server(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    assert forked.fork_server(("json",), child_env, tmp_path / "again.log") is server
    other = forked.fork_server(("json",), {**child_env, "PYTHONPATH": str(tmp_path)}, tmp_path / "other.log")
    try:
        assert other is not server
    finally:
        other.stop()


def test_forked_children_die_with_a_harness_killed_outright(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    # No teardown runs: the kernel ends the fork server (PR_SET_PDEATHSIG), and with it the child.
    harness = textwrap.dedent(
        f"""
        from pathlib import Path
        import time
        from golive.fixtures import forked
        from golive.fixtures.network import listening_socket
        env = {child_env!r}
        server = forked.fork_server(("json",), env, Path({str(tmp_path / "server.log")!r}))
        with listening_socket() as listener:
            child = server.spawn("orphan", "golive_forked_child", ["{{fd}}", "sleep"], env=env,
                                 cwd=Path({str(tmp_path)!r}), log_path=Path({str(tmp_path / "o.log")!r}),
                                 fd=listener.fileno())
        print(server._process.pid, child.pid, flush=True)
        time.sleep(300)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    server_pid, child_pid = (int(pid) for pid in process.stdout.readline().split())
    assert running(server_pid)
    assert running(child_pid)
    process.kill()
    process.wait(10)
    wait_dead(server_pid)
    wait_dead(child_pid)


@pytest.mark.parametrize("switch", ["1", "0"])
def test_backend_replicas_are_forked_unless_turned_off(
    golive_start_backend: BackendFactory, switch: str
) -> None:
    cluster = golive_start_backend({forked.SWITCH: switch}, replicas=2)
    kinds = {type(replica.process) for replica in cluster.replicas}
    assert kinds == ({forked.ForkedProcess} if switch == "1" else {ChildProcess})
    for url in cluster.urls:
        assert http_clients.get(f"{url}/health", timeout=10).json()["data"]["status"] == "healthy"
    replicas = [replica.process for replica in cluster.replicas]
    cluster.stop()
    assert not any(process in running_children() for process in replicas)


def test_the_socket_is_the_one_handed_down(
    server: forked.ForkServer, child_env: dict[str, str], tmp_path: Path
) -> None:
    # The child's descriptor is the listener the harness bound: a connection to its port reaches it.
    with listening_socket() as listener:
        port = listener.getsockname()[1]
        child = server.spawn(
            "child", "golive_forked_child", ["{fd}", "sleep"], env=child_env, cwd=tmp_path,
            log_path=tmp_path / "c.log", fd=listener.fileno(),
        )  # fmt: skip
    try:
        said(child)
        # The harness closed its copy; the port still accepts because the child holds the socket.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        child.stop(timeout=5)
