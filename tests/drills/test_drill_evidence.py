"""drill-NAME.json is read back by the type that wrote it (golive.core.drill_evidence): what a drill
writes reads back equal, and a file of another shape (a field renamed or missing, an `ok` that its
checks do not bear out) is refused with the field, never read as a guess."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golive.core.drill_evidence import DrillRecord, Lock, Step
from golive.core.records import EvidenceError
from golive.drills.result import DrillResult


def a_result() -> DrillResult:
    """A drill with a step that passed with a lock and a warning, and one that failed."""
    result = DrillResult(drill="migration", settings={"revisions": ["0001", "0002"]})
    upgrade = Step(name="upgrade head", seconds=0.25, revision="0002")
    upgrade.locks = [Lock(table="users", mode="AccessExclusiveLock", held_ms=12.5)]
    upgrade.check("the database is at 0002", [])
    upgrade.warnings.append("the drill has no data for what 0002 added")
    upgrade.figures = {"written": {"users": 3}}
    downgrade = Step(name="downgrade 0002 -> 0001", revision="0001", rewrites=["users"])
    downgrade.check("every legacy value is intact", ["users.email: 2 rows differ"])
    result.steps += [upgrade, downgrade]
    return result.finish()


def test_what_a_drill_writes_reads_back_equal(tmp_path: Path) -> None:
    result = a_result()
    path = result.write_into(tmp_path)
    assert path == tmp_path / "drill-migration.json"
    read = DrillRecord.read(path)
    assert read.model_dump() == result.model_dump()
    assert (read.ok, [step.ok for step in read.steps]) == (False, [True, False])
    assert read.failures == [
        "downgrade 0002 -> 0001: every legacy value is intact: users.email: 2 rows differ"
    ]
    assert read.warnings == ["upgrade head: the drill has no data for what 0002 added"]
    # The derived verdicts are in the file, for its other readers (CI, people).
    written = json.loads(path.read_text())
    assert (written["ok"], written["steps"][0]["ok"]) == (False, True)


def renamed(document: dict[str, Any]) -> None:
    document["steps"][0]["results"] = document["steps"][0].pop("checks")


def without_error(document: dict[str, Any]) -> None:
    del document["error"]  # a field with a default: a drill may leave it, a file may not


def without_held_ms(document: dict[str, Any]) -> None:
    del document["steps"][0]["locks"][0]["held_ms"]


def claims_ok(document: dict[str, Any]) -> None:
    document["ok"] = True  # a failed check under it


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (renamed, "steps.0.checks: Field required"),
        (without_error, "error: Field required"),
        (without_held_ms, "steps.0.locks.0.held_ms: Field required"),
        (claims_ok, "ok: is True, but the rest of the file makes it False"),
        (lambda document: document.pop("ok"), "ok: Field required"),
        (lambda document: document.update(passed=True), "passed: Extra inputs are not permitted"),
    ],
)
def test_a_file_of_another_shape_is_refused_with_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    path = a_result().write_into(tmp_path)
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(EvidenceError) as error:
        DrillRecord.read(path)
    assert error.value.reason == f"not a drill result golive writes: {problem}"
