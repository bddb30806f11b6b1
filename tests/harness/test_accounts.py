"""The stack's accounts made in a child of the fork server: with the backend's code, handed back
through a pipe; and a child that fails or hangs is one clear error, its log named, nothing left."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from golive.fixtures import accounts, forked
from golive.fixtures.processes import ProcessError
from golive.fixtures.stack import APP_DATABASE
from golive.fixtures.sut import BACKEND_LIBRARIES, SERVER_LIBRARIES


@pytest.fixture
def server(tmp_path: Path) -> Iterator[forked.ForkServer]:
    """A fork server of the test's own, as the stack's is made: the shared one (`fork_server`)
    also serves the session's stack, whose replicas and services would die with it."""
    python_env = forked.python_environment(os.environ)
    log = tmp_path / "fork-server.log"
    server = forked.ForkServer(SERVER_LIBRARIES, python_env, log, BACKEND_LIBRARIES).start()
    yield server
    server.stop()


def test_the_child_makes_one_account_per_role_and_hands_back_their_credentials(
    server: forked.ForkServer, golive_database: str, tmp_path: Path
) -> None:
    dsn = golive_database
    made = accounts.stack_accounts(dsn, server, dict(os.environ), tmp_path / "accounts.log")
    assert sorted(made) == ["admin", "user"]  # the reference backend's roles
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT username, role FROM users WHERE username = ANY(%s)",
            ([credentials.username for credentials in made.values()],),
        ).fetchall()
    assert sorted(rows) == sorted((credentials.username, role) for role, credentials in made.items())
    passwords = [credentials.password for credentials in made.values()]
    assert not any(password in (tmp_path / "accounts.log").read_text() for password in passwords)


def test_a_child_that_fails_is_one_error_with_its_log(server: forked.ForkServer, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once it is closed
    dsn = f"postgresql://nobody:secret@127.0.0.1:{port}/{APP_DATABASE}"
    with pytest.raises(ProcessError, match="the accounts' maker exited with 1") as raised:
        accounts.stack_accounts(dsn, server, dict(os.environ), tmp_path / "accounts.log")
    assert "Connect call failed" in str(raised.value) or "refused" in str(raised.value)


def test_a_child_that_hangs_is_stopped_at_its_deadline(
    server: forked.ForkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "TIMEOUT_SECONDS", 1.0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes the connection, never answers
        dsn = f"postgresql://nobody:secret@127.0.0.1:{silent.getsockname()[1]}/{APP_DATABASE}"
        with pytest.raises(ProcessError, match="the accounts' maker did not finish within 1 s"):
            accounts.stack_accounts(dsn, server, dict(os.environ), tmp_path / "accounts.log")
    assert server.is_running()  # the child went alone


def test_without_a_fork_server_they_are_made_here(golive_database: str, tmp_path: Path) -> None:
    made = accounts.stack_accounts(golive_database, None, dict(os.environ), tmp_path / "accounts.log")
    assert sorted(made) == ["admin", "user"]
    assert not (tmp_path / "accounts.log").exists()  # no child, no log
