"""golive selftest: the defect catalogue is read as written, a scratch copy takes each patch and
the working tree none, a patch that does not apply is a line of the table, Ctrl-C stops the
validation under way, real defects are caught by their gates in focused validations (`--focused`,
a few seconds each), and (nightly: two whole quick validations) without focus too."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from golive.core.junit import RESILIENCE, read_junit
from golive.core.owners import identity
from golive.fixtures.network import wait_until
from golive.fixtures.providers.local.scratch import MARKER, PYTEST_PREFIX
from golive.reports.gates import GATES
from golive.reports.summary import Summary
from golive.stages.selftest import (
    DEFAULT_CATALOGUE,
    PACKAGE,
    CatalogueError,
    Defect,
    Outcome,
    apply_patch,
    catalogue,
    parse_defect,
    run_one,
    scratch_copy,
    select,
    sweep_after,
)
from tests.harness.golive import GOLIVE, run_golive
from tests.harness.leaks import assert_no_survivors, new_marker

FAST_DEFECT = "02-content-ownership-check-removed"
DIFF = """--- a/system_under_test/app.py
+++ b/system_under_test/app.py
@@ -1,1 +1,1 @@
-this line is not in app.py
+nor is this one
"""


def write_patch(directory: Path, name: str, header: str, diff: str = DIFF) -> Path:
    path = directory / f"{name}.patch"
    path.write_text(header + diff)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_patch_of_the_catalogue_names_its_defect_and_a_known_gate() -> None:
    defects = catalogue()
    gates = {gate.id for gate in GATES}
    assert len(defects) >= 12
    assert all(defect.gate in gates and defect.description for defect in defects)
    assert len({defect.number for defect in defects}) == len(defects)
    # The escaped ones are kept apart, each with why validate misses it.
    escaped = [parse_defect(path) for path in sorted((DEFAULT_CATALOGUE / "escaped").glob("*.patch"))]
    assert all(defect.path.name not in {d.path.name for d in defects} for defect in escaped)
    assert all("# escapes: " in defect.path.read_text() for defect in escaped)


@pytest.mark.parametrize(
    "path",
    sorted(DEFAULT_CATALOGUE.glob("*.patch")) + sorted((DEFAULT_CATALOGUE / "escaped").glob("*.patch")),
    ids=lambda path: path.stem,
)
def test_every_defect_applies_to_the_reference_backend_as_it_is(path: Path) -> None:
    """Its context exactly (no fuzz; moved lines are fine): a change to the backend that rewrites a
    defect's lines must carry the defect along, or its selftest says "does not apply" instead of
    caught or missed. Checked in the checkout (patch does not follow golive/'s links into it; the
    selftest's copy has none)."""
    done = subprocess.run(
        [
            "patch",
            "-p1",
            "--forward",
            "--batch",
            "--dry-run",
            "--fuzz=0",
            "-d",
            str(PACKAGE.parent),
            "-i",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_header_is_read_from_the_comment_lines_before_the_diff(tmp_path: Path) -> None:
    path = write_patch(
        tmp_path, "07-x", "# defect: a breaker that never opens\n#gate:  breakers \n# other: kept\n"
    )
    assert parse_defect(path) == Defect("07-x", "a breaker that never opens", "breakers", path)


@pytest.mark.parametrize(
    ("header", "diff", "problem"),
    [
        ("# defect: d\n", DIFF, "no '# gate:' line before the diff"),
        ("# gate: api\n", DIFF, "no '# defect:' line before the diff"),
        ("# defect: d\n# gate: speed\n", DIFF, "unknown gate 'speed' (gates: health, "),
        ("# defect: d\n# gate: api\n", "", "no unified diff after the header"),
        # A header line after the diff started is the diff's, not the header's.
        ("# defect: d\n", DIFF + "# gate: api\n", "no '# gate:' line before the diff"),
    ],
)
def test_a_bad_header_is_one_clear_error(tmp_path: Path, header: str, diff: str, problem: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        parse_defect(write_patch(tmp_path, "01-bad", header, diff))
    assert str(raised.value).startswith(f"01-bad.patch: {problem}")


def test_defects_are_selected_by_name_or_number(tmp_path: Path) -> None:
    for name in ("01-a", "02-b", "10-c"):
        write_patch(tmp_path, name, "# defect: d\n# gate: api\n")
    defects = catalogue(tmp_path)
    assert [d.name for d in select(defects, ["10-c.patch", "2", "02", "01"])] == ["10-c", "02-b", "01-a"]
    assert select(defects, []) == defects
    with pytest.raises(CatalogueError, match="no defect '3'"):
        select(defects, ["3"])


def test_a_patch_that_does_not_apply_is_reported_not_a_crash(tmp_path: Path) -> None:
    defect = parse_defect(write_patch(tmp_path, "01-stale", "# defect: d\n# gate: api\n"))
    outcome = run_one(defect, tmp_path / "run", quick=True, timeout=60)
    assert outcome.error is not None
    assert outcome.error.startswith("the patch does not apply: ")
    assert outcome.verdict is None
    assert not outcome.ok
    assert not (tmp_path / "run").exists()  # validate never started


def test_the_scratch_copy_takes_the_patch_and_the_working_tree_does_not(tmp_path: Path) -> None:
    defect = select(catalogue(), [FAST_DEFECT])[0]
    target = PACKAGE / "system_under_test" / "routers" / "content.py"
    before = digest(target)
    package = scratch_copy(PACKAGE, tmp_path)
    assert apply_patch(defect, package) is None
    assert digest(target) == before
    assert digest(package / "system_under_test" / "routers" / "content.py") != before
    # The linked folders are real ones in the copy; caches, Node packages and old runs are left out.
    for linked in ("system_under_test", "suites", "fixtures", "reports"):
        assert (PACKAGE / linked).is_symlink()
        assert not (package / linked).is_symlink()
    copied = {part for path in package.rglob("*") for part in path.relative_to(package).parts}
    assert not copied & {"__pycache__", "node_modules"}
    assert not (package / "reports" / "out").exists()
    # A second application is refused (--forward), not applied in reverse.
    assert (apply_patch(defect, package) or "").startswith("the patch does not apply: ")


def test_the_verdict_decides_what_was_caught() -> None:
    assert Outcome("baseline", None, "GO").ok
    assert not Outcome("baseline", None, "NO-GO", ["load"]).ok
    assert Outcome("02-x", "api", "NO-GO", ["api", "security"]).ok
    assert not Outcome("02-x", "api", "NO-GO", ["security"]).ok  # caught, but not by its gate
    assert not Outcome("02-x", "api", "GO").ok  # escaped
    assert not Outcome("02-x", "api", "NO-GO", ["api"], error="validate did not finish in 60 s").ok


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["99"], "golive selftest: no defect '99' (see tests/mutants/: a file name or its number)"),
        (["--catalogue", "/nonexistent"], "golive selftest: no defect catalogue at /nonexistent"),
    ],
)
def test_bad_arguments_are_one_line(args: list[str], message: str) -> None:
    done = run_golive("selftest", *args, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(message)


def test_ctrl_c_stops_the_validation_under_way(tmp_path: Path) -> None:
    marker = new_marker()
    # A temp directory of its own, so only what this selftest made is judged (another golive
    # may run on the machine); short, for the Unix sockets Postgres puts there.
    temp = Path(tempfile.mkdtemp(prefix="gl-"))
    temp.chmod(0o711)  # Postgres runs as its own user and must pass through, as through /tmp
    run = tmp_path / "run"
    process = subprocess.Popen(
        [*GOLIVE, "selftest", "--quick", FAST_DEFECT, "--run-dir", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **marker, "COLUMNS": "200", "TMPDIR": str(temp)},
    )
    try:
        # The baseline's validation has its stack up.
        wait_until(
            lambda: (run / "baseline" / "stack.json").exists() or None,
            timeout=180,
            what="the baseline's stack",
            give_up=lambda: None if process.poll() is None else f"selftest exited {process.returncode}",
        )
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert_no_survivors(marker)
    left = list(temp.iterdir())
    shutil.rmtree(temp, ignore_errors=True)
    assert left == []
    assert json.loads((run / "run.json").read_text())["commands"]["selftest"]["exit_code"] == 130
    # The validation stopped the way Ctrl-C stops it: its report says what ran.
    baseline = Summary.model_validate_json((run / "baseline" / "summary.json").read_text())
    assert baseline.verdict == "INCOMPLETE"
    assert not (run / FAST_DEFECT).exists()


@pytest.mark.nightly
@pytest.mark.timeout(2700)
def test_a_real_defect_is_caught_by_its_gate(tmp_path: Path) -> None:
    """Two quick validations (the baseline and the defect): about ten minutes on a busy machine."""
    done = run_golive("selftest", "--quick", FAST_DEFECT, "--run-dir", str(tmp_path), timeout=2600)
    summary = Summary.model_validate_json((tmp_path / FAST_DEFECT / "summary.json").read_text())
    assert summary.verdict == "NO-GO"
    failed = {gate.id for gate in summary.gates if gate.status == "fail"}
    assert "api" in failed
    row = next(line for line in done.stdout.splitlines() if line.split()[:1] == [FAST_DEFECT])
    assert row.split()[1:3] == ["api", "NO-GO"]
    assert row.split()[-1] == "caught"
    baseline = Summary.model_validate_json((tmp_path / "baseline" / "summary.json").read_text())
    # The exit code is the whole selftest's: the defect caught, so it is the baseline's GO or not.
    assert done.returncode == (0 if baseline.verdict == "GO" else 1), done.stderr
    recorded = json.loads((tmp_path / "run.json").read_text())["commands"]["selftest"]
    assert [(o["name"], o["verdict"]) for o in recorded["outcomes"]] == [
        ("baseline", baseline.verdict),
        (FAST_DEFECT, "NO-GO"),
    ]


@pytest.mark.timeout(900)
def test_a_focused_validation_of_a_defect_runs_only_what_its_gate_judges_and_fails_it(tmp_path: Path) -> None:
    """`selftest --focused` for one defect: `validate --quick --gate idempotency` on the patched
    copy. Only the gate's two test modules run (no other suite, no drill, no chaos, no load),
    and they catch the defect: NO-GO, with every other gate reported as not part of the run."""
    (defect,) = select(catalogue(), ["53"])
    assert defect.gate == "idempotency"
    outcome = run_one(defect, tmp_path, quick=True, timeout=800, focused=True)
    assert outcome.error is None
    assert (outcome.verdict, outcome.failed) == ("NO-GO", ["idempotency"])
    assert outcome.ok
    run_dir = tmp_path / defect.name
    ran = {path.name for path in run_dir.iterdir()}
    evidence = {name for name in ran if name.startswith(("junit-", "drill-", "load", "chaos", "health"))}
    assert evidence == {"junit-resilience.xml"}
    modules = {case.module for case in read_junit(RESILIENCE, run_dir / "junit-resilience.xml").cases}
    assert modules == {"resilience.test_idempotency", "resilience.test_interrupted_jobs"}
    summary = Summary.model_validate_json((run_dir / "summary.json").read_text())
    assert {gate.detail for gate in summary.gates if gate.id != "idempotency"} == {
        "not part of this run (--gate idempotency)"
    }


# A few seconds each focused: a health answer, the guide's suite, a migration's downgrade.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("number", ["21", "17", "26"])
def test_a_focused_validation_catches_a_defect_by_its_gate(tmp_path: Path, number: str) -> None:
    (defect,) = select(catalogue(), [number])
    outcome = run_one(defect, tmp_path, quick=True, timeout=500, focused=True)
    assert (outcome.error, outcome.verdict, outcome.failed) == (None, "NO-GO", [defect.gate])


def test_the_scratch_copy_is_marked_for_golive_clean(tmp_path: Path) -> None:
    # A SIGKILLed selftest runs no teardown: its copy must be one `golive clean` recognises.
    from golive.core.owners import identity
    from golive.fixtures.providers.local.scratch import scratch_dirs
    from golive.stages.selftest import _scratch

    with _scratch(tmp_path / "run") as root:
        marked = [scratch for scratch in scratch_dirs() if scratch.path == root]
        assert [(s.owner, s.belongs_to(tmp_path / "run"), s.abandoned) for s in marked] == [
            (identity(), True, False)
        ]
    assert not root.exists()


def test_what_an_ended_validation_left_of_its_run_is_swept_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C may cut a lane's thread off before it removes its suite's tmp_path: the selftest
    removes what the ended validation left of its run, never a live run's or another run's."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    run, other = tmp_path / "run", tmp_path / "other"
    gone = subprocess.run(
        [sys.executable, "-c", "from golive.core.owners import identity; print(identity())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip

    def marked(name: str, owner: str, run_dir: Path) -> Path:
        path = temp / f"{PYTEST_PREFIX}{name}"
        (path / "tmp").mkdir(parents=True)
        (path / MARKER).write_text(json.dumps({"owner": owner, "log_dir": str(run_dir / "logs")}))
        return path

    left = marked("left", gone, run)
    live = marked("live", identity(), run)
    elsewhere = marked("elsewhere", gone, other)
    sweep_after(run)
    assert not left.exists()
    assert live.exists()
    assert elsewhere.exists()
