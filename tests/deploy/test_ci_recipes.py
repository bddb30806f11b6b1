"""The CI recipes of deploy/ci/ (GitHub Actions, GitLab CI) are valid YAML, do what they promise
(pull request: tests and the quick validation, the summary as a comment, junit.xml kept; nightly:
chaos repeated and the full validation; pip's downloads cached), and every `golive` command line
in them is one golive's command-line interface accepts, with options the command has."""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from golive import cli

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "deploy" / "ci"
GITHUB = sorted((CI / "github").glob("*.yml"))
GITLAB = CI / "gitlab" / ".gitlab-ci.yml"
RECIPES = [*GITHUB, GITLAB]
SHELL_OPERATORS = {"&&", "||", ";", "|", "then", "do", "fi", "done"}
SETUP = re.compile(r"apt-get install .*\bpostgresql\b.*\bredis-server\b")


def recipe(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    return document


def scripts(path: Path) -> Iterator[str]:
    """The shell the recipe runs: GitHub steps' `run`, GitLab jobs' `script`/`before_script`/
    `after_script` (the default's too)."""
    document = recipe(path)
    if path.suffix == ".yml" and path.parent.name == "github":
        for job in document["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    yield str(step["run"])
        return
    for job in document.values():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                yield from (str(line) for line in job.get(key, []))


def command_lines(path: Path) -> list[list[str]]:
    """Each `golive ...` command of the recipe's shell, as argv, up to the next shell operator."""
    commands = []
    for script in scripts(path):
        for line in script.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for index, word in enumerate(words):
                if word != "golive":
                    continue
                argv = []
                for token in words[index + 1 :]:
                    if token in SHELL_OPERATORS or token.startswith((">", "2>")):
                        break
                    argv.append(token.rstrip(";"))
                commands.append(argv)
    return commands


@functools.cache
def golive_command() -> Any:
    """golive's Click tree, built when a test first walks it: building it imports every command
    (a second of CPU), which collecting this module in every xdist worker need not."""
    return typer.main.get_command(cli.build())


def accepted(argv: list[str]) -> None:
    """Walks golive's Click tree as the shell would call it; fails naming what it does not know.
    (Typer carries its own copy of Click: its classes are told apart by what they have.)"""
    command = golive_command()
    path = ["golive"]
    words = list(argv)
    while hasattr(command, "commands"):
        assert words, f"`{' '.join(path)}` needs a subcommand"
        name = words.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`{' '.join(path)}` has no command {name!r}"
        command, path = sub, [*path, name]
    options = {opt: param for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    arguments = [param for param in command.params if param.param_type_name == "argument"]
    while words:
        word = words.pop(0)
        if word.startswith("--"):
            name, has_value, _ = word.partition("=")
            param = options.get(name)
            assert param is not None, f"`{' '.join(path)}` has no option {name}"
            takes_value = param.param_type_name == "option" and not param.is_flag
            if takes_value and not has_value:
                value = words.pop(0) if words else "--"
                assert not value.startswith("--"), f"`{' '.join(path)} {name}` needs a value"
            assert takes_value or not has_value, f"`{' '.join(path)} {name}` is a flag"
        else:
            assert arguments, f"`{' '.join(path)}` takes no argument ({word!r})"


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: str(path.relative_to(CI)))
def test_every_golive_command_line_is_one_golive_accepts(path: Path) -> None:
    commands = command_lines(path)
    assert commands, f"{path}: no golive command"
    for argv in commands:
        accepted(argv)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["validate", "--imagine", "x"], "has no option --imagine"),
        (["chaos", "go"], "has no command 'go'"),
        (["validate", "--quick=yes"], "is a flag"),
        (["chaos", "run", "--repeat"], "needs a value"),
        (["version", "extra"], "takes no argument"),
    ],
)
def test_the_checker_refuses_what_golive_would(argv: list[str], problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        accepted(argv)


def test_the_pull_request_recipes_test_validate_comment_and_keep_junit() -> None:
    github = recipe(CI / "github" / "golive-pull-request.yml")
    assert "pull_request" in github[True]  # YAML 1.1 reads the key `on` as true
    shell = "\n".join(scripts(CI / "github" / "golive-pull-request.yml"))
    assert "pytest" in shell
    assert ["validate", "--quick", "--run-dir", "$RUN_DIR"] in command_lines(
        CI / "github" / "golive-pull-request.yml"
    )
    assert re.search(r"gh pr comment .*--body-file \"\$RUN_DIR/summary.md\"", shell)
    uploads = [
        step for step in github["jobs"]["golive"]["steps"] if "upload-artifact" in step.get("uses", "")
    ]
    assert any("golive-run/junit.xml" in step["with"]["path"] for step in uploads)
    assert all(step.get("if") == "always()" for step in uploads)

    gitlab = recipe(GITLAB)["golive-merge-request"]
    assert gitlab["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert any(line.startswith("pytest") for line in gitlab["script"])
    assert "golive validate --quick" in "\n".join(gitlab["script"])
    assert "summary.md" in "\n".join(gitlab["after_script"])
    assert "/merge_requests/$CI_MERGE_REQUEST_IID/notes" in "\n".join(gitlab["after_script"])
    assert "golive-run/junit.xml" in gitlab["artifacts"]["reports"]["junit"]
    assert gitlab["artifacts"]["when"] == "always"


def test_the_nightly_recipes_repeat_chaos_then_validate_fully() -> None:
    github = recipe(CI / "github" / "golive-nightly.yml")
    assert "schedule" in github[True]
    gitlab = recipe(GITLAB)["golive-nightly"]
    assert gitlab["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    for commands in (command_lines(CI / "github" / "golive-nightly.yml"), command_lines(GITLAB)):
        chaos = [argv for argv in commands if argv[:2] == ["chaos", "run"]]
        assert chaos
        assert all("--repeat" in argv for argv in chaos)
        assert any(argv[0] == "validate" and "--quick" not in argv for argv in commands)


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: str(path.relative_to(CI)))
def test_the_set_up_installs_golive_and_the_system_packages_and_caches_pip(path: Path) -> None:
    shell = "\n".join(scripts(path))
    assert SETUP.search(shell), f"{path}: postgresql and redis-server are not installed"
    assert re.search(r"pip install \"?golive(\[all\])?\"?", shell), f"{path}: golive is not installed"
    text = path.read_text()
    if path == GITLAB:
        assert recipe(path)["default"]["cache"]["paths"] == [".cache/pip"]
        assert recipe(path)["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    else:
        assert "actions/cache@" in text
        assert "~/.cache/pip" in text
