"""`golive selftest`: how much the go-live validation catches. Each patch of the defect catalogue
(tests/mutants/NN-name.patch, a realistic mistake in the reference backend, with the gate that
must fail) is applied to a scratch copy of the whole golive package, and `golive validate` runs
from that copy in a child process; the unpatched copy runs first and must say GO, every defect
must then be NO-GO with its gate among the failed ones. The working tree is never touched. Each
defect's load run is compared with the unpatched one's (`--baseline`): the last GO, as a team
compares a release with its previous one, so a defect that only slows the backend is caught.

A patch starts with comment lines, then the unified diff (paths a/system_under_test/...):

    # defect: <the guide's promise it breaks>
    # gate: <the gate id it must fail>
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

import golive
from golive.core.load_evidence import LOAD_DIR, LOAD_FILE
from golive.core.signals import shielded
from golive.fixtures.backend import COMMAND_ENV_VAR, IMAGE_ENV_VAR, MIGRATE_ENV_VAR, PROVISION_ENV_VAR
from golive.fixtures.backend import ENV_VAR as BACKEND_ENV_VAR
from golive.fixtures.processes import ChildProcess
from golive.fixtures.providers.local.scratch import SELFTEST_PREFIX, owned_tempdir, scratch_dirs
from golive.reports.gates import GATE_IDS
from golive.reports.summary import Summary

PACKAGE = Path(golive.__file__).parent
# The catalogue lives in a checkout (tests/ is not part of an installed golive).
DEFAULT_CATALOGUE = PACKAGE.parent / "tests" / "mutants"
BASELINE = "baseline"
# Generous on a busy 2-core machine: a quick validation takes about 2 minutes there, a full one 4.
DEFAULT_TIMEOUT = {True: 600.0, False: 1200.0}
PATCH_TIMEOUT = 60.0
# Time for an interrupted validation (SIGINT, as Ctrl-C) to write its report and stop its stack.
STOP_GRACE = 60.0
# Caches, Node packages (the suites install theirs on demand) and run directories are not golive.
_NOT_COPIED = {"__pycache__", "node_modules", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}
_HEADER = re.compile(r"#\s*(\w+)\s*:\s*(.*?)\s*$")


class CatalogueError(ValueError):
    """A patch file, or a name given on the command line, that the selftest cannot use."""


@dataclass(frozen=True)
class Defect:
    name: str  # the file name without .patch: NN-short-name
    description: str
    gate: str
    path: Path

    @property
    def number(self) -> str:
        return self.name.partition("-")[0]


@dataclass
class Outcome:
    name: str
    gate: str | None  # the gate the defect must fail; None for the baseline
    verdict: str | None = None  # GO, NO-GO or INCOMPLETE; None when validate did not report
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # why there is no verdict (the patch did not apply, a timeout, ...)
    run_dir: Path | None = None

    @property
    def ok(self) -> bool:
        """The baseline said GO; a defect was caught by its gate."""
        if self.error is not None:
            return False
        if self.gate is None:
            return self.verdict == "GO"
        return self.verdict == "NO-GO" and self.gate in self.failed


def parse_defect(path: Path) -> Defect:
    """The patch's header: `# defect:` and `# gate:` lines before the diff."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError(f"{path.name}: cannot read: {error}") from None
    fields: dict[str, str] = {}
    body = False
    for line in text.splitlines():
        if not line.startswith("#"):
            body = body or line.startswith(("--- ", "diff "))
            if body:
                break
            continue
        match = _HEADER.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), match.group(2))
    name = path.name.removesuffix(".patch")
    if not body:
        raise CatalogueError(f"{path.name}: no unified diff after the header")
    for key in ("defect", "gate"):
        if not fields.get(key):
            raise CatalogueError(f"{path.name}: no '# {key}:' line before the diff")
    known = list(GATE_IDS)
    if fields["gate"] not in known:
        raise CatalogueError(f"{path.name}: unknown gate {fields['gate']!r} (gates: {', '.join(known)})")
    return Defect(name, fields["defect"], fields["gate"], path)


def catalogue(directory: Path = DEFAULT_CATALOGUE) -> list[Defect]:
    """The defects of the directory (not of its subfolders: escaped/ keeps those validate misses)."""
    if not directory.is_dir():
        raise CatalogueError(f"no defect catalogue at {directory} (it is in a checkout's tests/mutants/)")
    defects = [parse_defect(path) for path in sorted(directory.glob("*.patch"))]
    if not defects:
        raise CatalogueError(f"{directory}: no *.patch file")
    return defects


def select(defects: Sequence[Defect], names: Sequence[str]) -> list[Defect]:
    """By file name (with or without .patch) or number (`7` or `07`); all when none is named."""
    if not names:
        return list(defects)
    chosen: list[Defect] = []
    for wanted in names:
        stem = wanted.removesuffix(".patch")
        found = [
            defect
            for defect in defects
            if stem in (defect.name, defect.number)
            or (stem.isdigit() and defect.number.isdigit() and int(stem) == int(defect.number))
        ]
        if not found:
            raise CatalogueError(f"no defect {wanted!r} (see tests/mutants/: a file name or its number)")
        chosen += [defect for defect in found if defect not in chosen]
    return chosen


def _ignored(source: Path) -> Callable[[str, list[str]], set[str]]:
    run_dirs = source / "reports"

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name in _NOT_COPIED}
        if Path(directory) == run_dirs:
            skipped.add("out")  # reports/out: earlier runs' artifacts
        return skipped

    return ignore


def scratch_copy(source: Path, root: Path) -> Path:
    """`root`/golive: the package with its linked folders (chaos, suites, system_under_test, ...)
    copied as real folders, so a patch changes the copy and nothing else."""
    target = root / "golive"
    shutil.copytree(source, target, symlinks=False, ignore=_ignored(source))
    return target


def apply_patch(defect: Defect, package: Path) -> str | None:
    """None when the patch applied; else what `patch` said (its last lines)."""
    try:
        done = subprocess.run(
            ["patch", "-p1", "--forward", "--batch", "-d", str(package), "-i", str(defect.path)],
            capture_output=True,
            text=True,
            timeout=PATCH_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return "the patch program is not installed"
    except subprocess.TimeoutExpired:
        return f"patch did not finish in {PATCH_TIMEOUT:.0f} s"
    if done.returncode == 0:
        return None
    said = " ".join((done.stdout + done.stderr).split()[-40:])
    return f"the patch does not apply: {said}"


@contextmanager
def _scratch(run_dir: Path) -> Iterator[Path]:
    # Marked with this process, so `golive clean` removes what a killed selftest left.
    root = owned_tempdir(SELFTEST_PREFIX, run_dir)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def sweep_after(run_dir: Path) -> None:
    """What a validation that has ended left in the temp directory, marked as its run's (a thread
    of its cut off mid-suite by Ctrl-C, or the validation killed): removed as `golive clean`
    removes it, only once its owner is gone."""
    for scratch in scratch_dirs():
        if scratch.belongs_to(run_dir) and scratch.abandoned:
            shutil.rmtree(scratch.path, ignore_errors=True)


def validate_copy(
    root: Path,
    run_dir: Path,
    quick: bool,
    timeout: float,
    baseline: Path | None = None,
    gates: Sequence[str] = (),
) -> tuple[Summary | None, str | None]:
    """`golive validate` from the copy in `root` (its own working directory too: `python -m`
    puts the working directory first on the path), its load compared with the `baseline` run's
    if given, focused on `gates` if any. The summary it wrote, or why there is none."""
    argv = [sys.executable, "-m", "golive", "validate", "--run-dir", str(run_dir)]
    if quick:
        argv.append("--quick")
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    for gate in gates:
        argv += ["--gate", gate]
    env = dict(os.environ)
    # The defects are the reference backend's: the copy's, served by golive, whatever backend
    # GOLIVE_APP names and however GOLIVE_BACKEND_CMD or GOLIVE_BACKEND_IMAGE serves it (or
    # the team's commands migrate it and make its accounts).
    for variable in (BACKEND_ENV_VAR, COMMAND_ENV_VAR, IMAGE_ENV_VAR, MIGRATE_ENV_VAR, PROVISION_ENV_VAR):
        env.pop(variable, None)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = run_dir.parent / f"{run_dir.name}.log"
    child = ChildProcess(f"validate {run_dir.name}", argv, log_path=log, env=env, cwd=root).start()
    deadline = time.monotonic() + timeout
    try:
        while child.exit_code() is None:
            if time.monotonic() >= deadline:
                child.stop(timeout=STOP_GRACE, signum=signal.SIGINT)
                return _summary(run_dir), f"validate did not finish in {timeout:.0f} s (log: {log})"
            time.sleep(0.5)
    finally:
        with shielded():  # Ctrl-C: the child stops with us (its stack torn down), even at a second one
            child.stop(timeout=STOP_GRACE, signum=signal.SIGINT)
            sweep_after(run_dir)
    summary = _summary(run_dir)
    if summary is None:
        tail = child.log_tail(1) or "no output"
        return None, f"validate exited {child.exit_code()} without a summary: {tail.strip()} (log: {log})"
    return summary, None


def _summary(run_dir: Path) -> Summary | None:
    path = run_dir / "summary.json"
    with contextlib.suppress(OSError, ValidationError, ValueError):
        return Summary.model_validate_json(path.read_text())
    return None


def run_one(
    defect: Defect | None,
    run_path: Path,
    quick: bool,
    timeout: float,
    source: Path = PACKAGE,
    baseline: Path | None = None,
    focused: bool = False,
) -> Outcome:
    """The baseline (`defect` None) or one defect: copy, patch, validate (compared with the
    `baseline` run, if given; `focused`: a defect's validation only of its gate), read the
    verdict back."""
    name = BASELINE if defect is None else defect.name
    outcome = Outcome(name, None if defect is None else defect.gate, run_dir=run_path / name)
    started = time.perf_counter()
    try:
        with _scratch(run_path) as root:
            package = scratch_copy(source, root)
            problem = None if defect is None else apply_patch(defect, package)
            if problem is not None:
                outcome.error = problem
                return outcome
            assert outcome.run_dir is not None
            gates = [defect.gate] if focused and defect is not None else []
            summary, outcome.error = validate_copy(root, outcome.run_dir, quick, timeout, baseline, gates)
            if summary is not None:
                outcome.verdict = summary.verdict
                outcome.failed = [gate.id for gate in summary.gates if gate.status == "fail"]
    finally:
        outcome.seconds = round(time.perf_counter() - started, 1)
    return outcome


def run_selftest(
    defects: Sequence[Defect],
    run_path: Path,
    quick: bool,
    timeout: float,
    report: Callable[[Outcome], None],
    source: Path = PACKAGE,
    focused: bool = False,
) -> list[Outcome]:
    """The baseline, then each defect, one at a time (each validation starts a stack of its own
    on a machine of a few cores). The defects run even when the baseline is not GO: which gate
    each one fails still says something, though the selftest as a whole fails. Each defect's load
    is compared with the baseline's load run, when it wrote one.

    `focused`: the baseline is still the whole validation, but each defect's runs only what its
    gate judges (`golive validate --gate`): the same tests and stages, run the same way, so the
    gate says what it would say in the whole validation, in a fraction of the time. Then only
    that gate can be seen failing."""
    unpatched = run_one(None, run_path, quick, timeout, source)
    report(unpatched)
    assert unpatched.run_dir is not None
    reference = unpatched.run_dir if (unpatched.run_dir / LOAD_DIR / LOAD_FILE).is_file() else None
    outcomes = [unpatched]
    for defect in defects:
        outcome = run_one(defect, run_path, quick, timeout, source, reference, focused)
        report(outcome)
        outcomes.append(outcome)
    return outcomes
