"""The pytest plugin as a user meets it: options, their errors, and what runs against a deployment.

Runs that only parse options, list them or run a test without a stack are in-process (pytester:
the plugin keeps its state in the session's config, so a nested session shares nothing with this
one); those that must see a fresh interpreter (what gets imported) or a session's processes are
subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from golive.fixtures.network import wait_until
from golive.fixtures.providers.local.scratch import scratch_dirs
from tests.harness.golive import communicate
from tests.harness.leaks import assert_no_survivors, marked_processes, new_marker


@pytest.fixture(autouse=True)
def _asyncio_loop_scope_set(request: pytest.FixtureRequest) -> None:
    """The projects these tests make set pytest-asyncio's loop scope, as this one does: without it
    pytest-asyncio warns at start-up, and a warning of an in-process session is this test's."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


MODULE = """
import pytest

@pytest.mark.external_ok
def test_reaches_the_target(golive_sut_url):
    assert golive_sut_url == "{url}"

def test_needs_the_local_stack(golive_stack):
    pass

def test_needs_an_admin(golive_admin_credentials):
    pass
"""


def test_sut_url_runs_only_external_ok_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MODULE.format(url="http://127.0.0.1:9"))
    result = pytester.runpytest_inprocess("--golive-sut-url", "http://127.0.0.1:9/", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*not meaningful against a deployment*"])


def test_sut_url_takes_credentials_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.external_ok
        def test_admin(golive_admin_credentials):
            assert golive_admin_credentials.username == "root"
        """
    )
    monkeypatch.setenv("GOLIVE_ADMIN_USERNAME", "root")
    monkeypatch.setenv("GOLIVE_ADMIN_PASSWORD", "pw")
    pytester.runpytest_inprocess("--golive-sut-url", "http://127.0.0.1:9").assert_outcomes(passed=1)


def test_stack_file_needs_no_external_ok(pytester: pytest.Pytester) -> None:
    stack = pytester.path / "stack.json"
    stack.write_text(
        json.dumps(
            {
                "provider": "local",
                "sut": "http://127.0.0.1:9",
                "users": {"admin": {"username": "a", "password": "b"}},
            }
        )
    )
    pytester.makepyfile(MODULE.format(url="http://127.0.0.1:9"))
    result = pytester.runpytest_inprocess("--golive-stack-file", str(stack), "-rs")
    # A description without the stack's secrets (golive up --json's public line) cannot give what
    # reaching inside needs: that test errors and says why, it does not skip.
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*--golive-stack-file: the description lacks postgres, postgres_admin*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--golive-sut-url", "localhost:8009"],
            "*--golive-sut-url: 'localhost:8009' is not an http(s) URL*",
        ),
        (["--golive-stack-file", "absent.json"], "*--golive-stack-file: absent.json: cannot read*"),
        (["--golive-stack-file", "s.json", "--golive-sut-url", "http://x"], "*give one*"),
        (["--golive-provider", "nope"], "*invalid choice: 'nope'*"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


SESSION_MODULE = """
import time
from pathlib import Path

def test_holds_the_stack(golive_stack):
    Path({ready!r}).write_text("up")
    time.sleep(300)
"""


def own_temp_dirs(module: Path) -> list[Path]:
    """The temp dirs of the session stack that `module`'s run started (their markers name its run
    directory): other golive runs on this machine, and their leftovers, are not this test's."""
    return [scratch.path for scratch in scratch_dirs() if scratch.belongs_to(module.parent / "run")]


def pytest_session(module: Path, marker: dict[str, str], **env: str) -> subprocess.Popen[str]:
    """A pytest run of `module` with its own session stack, findable by `marker`."""
    argv = [sys.executable, "-m", "pytest", str(module), "-p", "no:cacheprovider"]
    return subprocess.Popen(
        [*argv, "--golive-run-dir", str(module.parent / "run")],
        cwd=module.parent,
        env={**os.environ, **marker, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_session_leaves_nothing_behind(tmp_path: Path, stop_with: int) -> None:
    ready = tmp_path / "ready"
    module = tmp_path / "test_hold.py"
    module.write_text(SESSION_MODULE.format(ready=str(ready)))
    marker = new_marker()
    session = pytest_session(module, marker)
    try:
        wait_until(lambda: True if ready.exists() else None, timeout=120, what="the session stack")
        assert marked_processes(marker)
        assert len(own_temp_dirs(module)) == 2  # Postgres' and Redis'
    finally:
        session.send_signal(stop_with)
        communicate(session, 60)
    assert_no_survivors(marker)
    assert own_temp_dirs(module) == []


def test_a_session_stack_that_fails_to_start_errors_and_leaves_nothing(tmp_path: Path) -> None:
    module = tmp_path / "test_needs_stack.py"
    module.write_text("def test_x(golive_stack):\n    pass\n")
    marker = new_marker()
    session = pytest_session(module, marker, GOLIVE_PG_BINDIR=str(tmp_path))
    output, _ = communicate(session, 300)
    assert session.returncode == pytest.ExitCode.TESTS_FAILED
    assert "1 error" in output
    assert "GOLIVE_PG_BINDIR" in output
    assert_no_survivors(marker)
    assert own_temp_dirs(module) == []


LOSES_A_SERVER = """
def test_stops_a_server_it_did_not_start(golive_stack):
    golive_stack.upstream.stop()

def test_comes_after_it(golive_stack):
    pass
"""


def test_a_test_that_stops_a_server_of_the_session_stack_errors_naming_it(tmp_path: Path) -> None:
    # The tests after it would fail for it, each with a connection refused: the culprit is named
    # (once: the test after it passes).
    module = tmp_path / "test_loses.py"
    module.write_text(LOSES_A_SERVER)
    marker = new_marker()
    session = pytest_session(module, marker)
    output, _ = communicate(session, 300)
    assert session.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "ERROR at teardown of test_stops_a_server_it_did_not_start" in output
    assert "the session's stack lost the AI-service stand-in during this test" in output
    assert "2 passed, 1 error" in output
    assert_no_survivors(marker)


# --- the plugin inside another project's suite -------------------------------------------------

BYSTANDER = """
import signal
import sys

import pytest

@pytest.mark.slow
def test_a_team_test_that_uses_no_golive_fixture():
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
    # The plugin's module and the packages it sits in, nothing else.
    loaded = {name for name in sys.modules if name.startswith("golive")}
    assert loaded == {"golive", "golive.fixtures", "golive.fixtures.plugin"}, loaded
"""


def test_a_project_that_uses_no_golive_fixture_gets_nothing_started_imported_or_installed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("def pytest_configure(config):\n    pass\n")
    pytester.makepyfile(BYSTANDER)
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_pytest_help_lists_only_prefixed_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    lines = result.stdout.str().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("golive:"))
    section = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        section.append(line)
    options = [line.split()[0].rstrip(",=") for line in section if line.lstrip().startswith("--")]
    assert options
    assert all(option.startswith("--golive-") for option in options), options


def test_markers_are_registered_for_strict_projects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.external_ok
        @pytest.mark.nightly
        def test_marked():
            pass
        """
    )
    pytester.runpytest_inprocess("--strict-markers").assert_outcomes(passed=1)
    markers = pytester.runpytest_inprocess("--markers").stdout.str()
    assert "@pytest.mark.external_ok:" in markers


def test_the_plugin_can_be_kept_out_and_loaded_by_name(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_uses_golive(golive_unused_port):\n    assert golive_unused_port > 0\n")
    pytester.runpytest_inprocess("-p", "no:golive").assert_outcomes(errors=1)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.runpytest_inprocess("-p", "golive").assert_outcomes(passed=1)
