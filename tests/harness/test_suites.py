from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from golive.core.junit import CONTRACT, Suite, read_junit
from golive.fixtures.description import StackDescription
from golive.fixtures.network import wait_until
from golive.stages.suites import CONFIG_FILE, SUITES_DIR, run_suite

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
    parallel = ["-n", "auto", "--maxprocesses", "4", "--dist", "worksteal"]
    assert shlex.split(suites.pop("addopts")) + parallel == shlex.split(settings["addopts"])
    assert suites.pop("filterwarnings").split() == settings["filterwarnings"]
    assert suites == {key: str(value) for key, value in settings.items() if key in suites}
    assert set(settings) - set(suites) == {"testpaths", "addopts", "filterwarnings"}


EXITING_MID_SUITE = """
import contextlib, sys, threading, time
from pathlib import Path
from golive.core.junit import Suite
from golive.stages import suites
from golive.fixtures.providers.local.scratch import PYTEST_PREFIX

@contextlib.contextmanager
def never_again():
    threading.Event().wait()
    yield

# Once its pytest ends, the lane's thread never runs again: a daemon thread at the interpreter's
# exit may not (deterministic here, a matter of scheduling on a busy machine).
suites.shielded = never_again

run_dir, test = Path(sys.argv[1]), sys.argv[2]
suite = Suite("hanging", "hanging", (test,))
threading.Thread(target=suites.run_suite, args=(suite, run_dir / "stack.json", run_dir), daemon=True).start()
# The test writes its pid first thing in its body, so its tmp_path exists by then.
deadline = time.monotonic() + 60
while not (run_dir / "pid").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
assert list(Path(sys.argv[3]).glob(f"{PYTEST_PREFIX}*/tmp/*")), "the test's tmp_path was never made"
sys.exit(0)  # as validate ends after Ctrl-C: the lane's thread is cut off where it waits
"""


def test_a_suite_cut_off_by_golive_exiting_leaves_neither_its_pytest_nor_its_tmp_path(tmp_path: Path) -> None:
    """Ctrl-C ends a validation without joining the lanes (threads waiting on their suite's
    pytest): the exit must take the suite's pytest and its tmp_path with it."""
    temp = tmp_path / "temp"
    temp.mkdir()
    StackDescription.for_deployment("http://127.0.0.1:9", {}).write(tmp_path / "stack.json")
    hanging = tmp_path / "test_hanging.py"
    hanging.write_text(
        "import os, time\nimport pytest\n\n@pytest.mark.external_ok\ndef test_hangs(tmp_path):\n"
        # Written whole then renamed: the exiting parent may cut the test off at any point.
        f"    open({str(tmp_path / 'pid.part')!r}, 'w').write(str(os.getpid()))\n"
        f"    os.replace({str(tmp_path / 'pid.part')!r}, {str(tmp_path / 'pid')!r})\n    time.sleep(120)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", EXITING_MID_SUITE, str(tmp_path), str(hanging), str(temp)],
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pid").exists(), "the suite's test never started"
    test_process = Path(f"/proc/{(tmp_path / 'pid').read_text()}")
    # Killed as golive exited; gone from /proc once reaped, a moment later.
    wait_until(lambda: None if test_process.exists() else True, timeout=10, what="the test to end")
    assert list(temp.iterdir()) == []


TEAM_PLUGIN = """
from pathlib import Path

def pytest_configure(config):
    Path({loaded!r}).write_text("loaded")
"""


def test_a_suite_loads_its_own_plugins_not_every_one_the_environment_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin the environment has (a team's, found by its entry point) stays out of a suite's
    pytest unless the suite names it."""
    site = tmp_path / "site"
    (site / "teamplugin-1.0.dist-info").mkdir(parents=True)
    (site / "teamplugin-1.0.dist-info" / "METADATA").write_text("Name: teamplugin\nVersion: 1.0\n")
    (site / "teamplugin-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nteam = teamplugin\n")
    loaded = tmp_path / "loaded"
    (site / "teamplugin.py").write_text(TEAM_PLUGIN.format(loaded=str(loaded)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(site))  # this process reads the entry points too
    StackDescription.for_deployment("http://127.0.0.1:9", {}).write(tmp_path / "stack.json")
    module = tmp_path / "test_plain.py"
    module.write_text("import pytest\n\n@pytest.mark.external_ok\nasync def test_plain():\n    pass\n")

    plain = run_suite(Suite("plain", "plain", (str(module),)), tmp_path / "stack.json", tmp_path / "a")
    assert (plain.passed, plain.exit_code) == (1, 0), plain.log.read_text() if plain.log else ""
    assert not loaded.exists()  # the async test passed: the suites' own asyncio plugin was there

    named = Suite("named", "named", (str(module),), plugins=("team",))
    assert run_suite(named, tmp_path / "stack.json", tmp_path / "b").passed == 1
    assert loaded.read_text() == "loaded"
