"""tox.ini keeps in step with CI: every command .ci/run runs is a command of some tox env, the
steps have the envs their names say, and the suite runs on Python 3.11 and 3.12."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_SCRIPTS = ("./scripts/check-wheel.sh", "./scripts/docker-engine.sh start")


def tox() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return parser


def env_names(parser: configparser.ConfigParser) -> set[str]:
    """Section names, with tox's generative braces expanded ({a,b} -> a, b)."""
    names = set()
    for section in parser.sections():
        name = section.removeprefix("testenv:")
        if section.startswith("testenv:"):
            names |= set(name.strip("{}").split(",")) if name.startswith("{") else {name}
    return names


def tox_commands(parser: configparser.ConfigParser) -> list[str]:
    lines = []
    for section in parser.sections():
        for key in ("commands_pre", "commands", "commands_post"):
            for line in parser.get(section, key, fallback="").splitlines():
                if line.strip():
                    lines.append(line.strip().replace(" {posargs}", "").replace("{toxinidir}/", "./"))
    return lines


def ci_commands() -> list[str]:
    """What .ci/run runs from the virtualenv (`.venv/bin/X ...`) and its scripts that tox can run too."""
    commands = []
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"\.venv/bin/([^&|;)]+)", line):
            commands.append(re.sub(r"\s*\d?>.*$", "", match.group(1)).strip())  # no redirection
        commands += [script for script in CI_SCRIPTS if line.strip().startswith(script)]
    return commands


def test_every_command_ci_runs_is_in_a_tox_env() -> None:
    commands = tox_commands(tox())
    ci = ci_commands()
    assert "pytest -m heavy -n 2 --dist loadscope" in ci  # the parsing found what .ci/run runs
    envs = env_names(tox())
    missing = [
        command
        for command in ci
        if command not in commands
        and not any(command in line for line in commands if line.startswith("bash -c"))
        # CI calling tox itself: the env must exist
        and not (command.startswith("tox -e ") and command.split()[2] in envs)
    ]
    assert not missing, f"tox.ini has no env running: {missing}"


def test_each_ci_step_has_its_env_and_the_suite_runs_on_311_and_312() -> None:
    parser = tox()
    assert {
        "lint",
        "audit",
        "suite",
        "py311-suite",
        "py312-suite",
        "heavy",
        "validate",
        "wheel",
        "docker",
    } <= (env_names(parser))
    envlist = parser.get("tox", "envlist")
    assert "py{311,312}-suite" in envlist
    assert parser.get("testenv:wheel", "commands").split() == ["{toxinidir}/scripts/check-wheel.sh"]
