from __future__ import annotations

import configparser
import shlex
import tomllib
from pathlib import Path

from golive.core.junit import CONTRACT, read_junit
from golive.stages.suites import CONFIG_FILE, SUITES_DIR

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="contract" tests="6">
<testcase classname="a" name="passes"><system-out>noise</system-out></testcase>
<testcase classname="a" name="fails"><failure message="assert 1 == 2&#10;more">trace</failure></testcase>
<testcase classname="a" name="errs"><error message="fixture broke">trace</error></testcase>
<testcase classname="a" name="skips"><skipped type="pytest.skip" message="why" /></testcase>
<testcase classname="a" name="xfails"><skipped type="pytest.xfail" message="later" /></testcase>
<testcase classname="a" name="passes-too" />
</testsuite></testsuites>
"""


def test_junit_outcomes_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    result = read_junit(CONTRACT, path)
    assert (result.passed, result.failed, result.errors, result.skipped, result.xfailed) == (2, 1, 1, 1, 1)
    assert result.failures == ["a::fails: assert 1 == 2", "a::errs: error: fixture broke"]
    assert not result.ok


def test_a_suite_that_ran_nothing_did_not_pass(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text('<testsuites><testsuite name="x" tests="0"></testsuite></testsuites>')
    assert not read_junit(CONTRACT, path).ok


def test_the_suites_run_by_golive_have_the_repositorys_pytest_settings() -> None:
    """golive runs its suites with their own file (an installed wheel has no pyproject.toml, and a
    team's own settings must not apply): the two must not drift apart."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    settings = project["tool"]["pytest"]["ini_options"]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(SUITES_DIR / CONFIG_FILE)
    suites = dict(ini["pytest"])
    # The repository's own run is spread over the cores by pytest-xdist; golive validate runs its
    # suites in lanes of its own (golive/stages/lanes.py), each pytest in one process.
    parallel = ["-n", "auto", "--maxprocesses", "4"]
    assert shlex.split(suites.pop("addopts")) + parallel == shlex.split(settings["addopts"])
    assert suites.pop("filterwarnings").split() == settings["filterwarnings"]
    assert suites == {key: str(value) for key, value in settings.items() if key in suites}
    assert set(settings) - set(suites) == {"testpaths", "addopts", "filterwarnings"}
