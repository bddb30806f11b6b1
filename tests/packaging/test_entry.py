"""A missing optional dependency is one line naming the extra, not a traceback; `golive --help`
and the commands that do not need it work without it. A command refused for its input does not
import the stack's clients and code first (two thirds of its start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from golive.loadtests.profiles import DEFAULT_FILE, load_profiles
from golive.reports.gates import GATE_IDS


def _golive_without(module: str, *argv: str, also: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    # A None entry in sys.modules makes `import module` raise ModuleNotFoundError, as if absent.
    program = (
        f"import sys; sys.modules.update(dict.fromkeys({[module, *also]!r})); "
        f"sys.argv = ['golive', *{list(argv)!r}]; "
        "from golive.entry import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("module", "extra", "argv"),
    [("docker", "docker", ("images", "list")), ("locust", "load", ("load", "--profile", "smoke"))],
)
def test_a_command_whose_extra_is_missing_names_it(module: str, extra: str, argv: tuple[str, ...]) -> None:
    done = _golive_without(module, *argv)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"golive: this needs golive[{extra}] (no module named {module!r}): pip install 'golive[{extra}]'"
    ]


@pytest.mark.parametrize("module", ["docker", "locust", "schemathesis"])
def test_help_lists_every_command_without_an_extra(module: str) -> None:
    done = _golive_without(module, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("up", "validate", "load", "images", "chaos", "clean"):
        assert f" {command} " in done.stdout


def test_clean_works_without_the_docker_extra() -> None:
    done = _golive_without("docker", "clean", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "golive clean: no container looked for: this needs golive[docker]" in done.stderr


def test_clean_imports_neither_the_services_nor_their_clients() -> None:
    # It reads the temp dirs' marks and the cluster cache, beside the services' modules.
    services = ("golive.fixtures.providers.local.postgres", "golive.fixtures.providers.local.redis")
    done = _golive_without("psycopg", "clean", "--dry-run", also=("redis", *services))
    assert done.returncode == 0, done.stderr
    assert "temp dir(s) of killed runs to remove" in done.stderr


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (("up", "--provider", "nope"), "golive up: unknown provider 'nope': choose one of local, docker"),
        (
            ("up", "--backend-cmd", " "),
            "golive up: --backend-cmd: empty (give the command that serves one replica)",
        ),
        (("report", "/nonexistent"), "golive report: /nonexistent: no such directory"),
        (
            ("drill", "nope"),
            "golive drill: no drill named 'nope': choose from migration, rollback, flags, backup, or all",
        ),
        (("validate", "--gate", "nope"), "golive validate: --gate nope: no such gate (gates: {gates})"),
        (
            ("validate", "--provider", "nope"),
            "golive validate: unknown provider 'nope': choose one of local, docker",
        ),
        (("load", "--profile", "nope"), "golive load: {profiles}: no profile 'nope' (there are: {names})"),
        (
            ("chaos", "run", "--target", "http://127.0.0.1:9"),
            "golive chaos run: --target needs --toxiproxy: the faults go through the Toxiproxy in front "
            "of the deployment's dependencies (deploy/kubernetes/staging-chaos/)",
        ),
    ],
)
def test_a_refusal_imports_neither_the_stack_nor_its_clients(argv: tuple[str, ...], refusal: str) -> None:
    stages = ("golive.stages.drills", "golive.stages.load", "golive.stages.validation")
    done = _golive_without("psycopg", *argv, also=("redis", "golive.fixtures.stack", *stages))
    profiles = load_profiles()
    said = refusal.format(profiles=DEFAULT_FILE, names=", ".join(profiles), gates=", ".join(GATE_IDS))
    assert (done.returncode, done.stderr.strip()) == (2, said)
