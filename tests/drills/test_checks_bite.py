"""The drills' checks bite. The migration drill, on each deliberately broken migration
(tests/drills/broken/, added as revision 0005 after the backend's own), fails and says precisely
what is wrong; the rollback drill fails when the version it restarts cannot serve the old schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.drills.budgets import Budgets
from golive.drills.data import Sizes
from golive.drills.migration import MigrationDrill
from golive.drills.rollback import RollbackDrill
from golive.drills.runner import stack_database
from golive.fixtures.stack import Stack
from golive.fixtures.sut import APP

BROKEN = Path(__file__).parent / "broken"
SMALL = Sizes(users=100, content=1_000, agent_metrics=10)


def test_the_drill_passes_without_them(golive_empty_database: str) -> None:
    result = MigrationDrill(golive_empty_database, SMALL).run()
    assert result.ok, result.failures


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            "drops_data",
            [
                "downgrade -1: every legacy value is intact: content.result: values changed (1000 rows)",
                "downgrade -1: data in what the step kept is intact: content.result: values changed",
            ],
        ),
        (
            "model_mismatch",
            [
                "references: each revision from empty: the models match the head revision: "
                "modify_type users.username: database has VARCHAR(32), models say VARCHAR(64)"
            ],
        ),
        (
            "orphan_table",
            [
                "references: each revision from empty: downgrade base from head leaves nothing: "
                "unexpected table drill_orphan",
                "upgrade head: alembic upgrade head succeeds: "
                'DuplicateTable: relation "drill_orphan" already exists',
            ],
        ),
    ],
)
def test_the_drill_fails_precisely_on_a_broken_migration(
    golive_empty_database: str, broken: str, expected: list[str]
) -> None:
    result = MigrationDrill(golive_empty_database, SMALL, extra_versions=BROKEN / broken).run()
    assert not result.ok
    assert result.settings["revisions"][-1] == "0005"
    for message in expected:
        assert any(failure.startswith(message) for failure in result.failures), result.failures


def test_a_long_exclusive_lock_and_a_rewrite_of_a_table_with_data_fail_the_drill(
    golive_empty_database: str,
) -> None:
    broken = BROKEN / "locks_and_rewrites"
    # The migration sleeps 1.5 s holding content: far over a 200 ms budget, whatever the load.
    result = MigrationDrill(
        golive_empty_database, SMALL, extra_versions=broken, budgets=Budgets(max_lock_ms=200)
    ).run()
    assert not result.ok
    (locked,) = [f for f in result.failures if f.startswith("upgrade head: no table with data locked")]
    assert locked.startswith("upgrade head: no table with data locked exclusively over 200 ms: ")
    assert "ACCESS EXCLUSIVE on content (1000 rows) held" in locked
    assert (
        "upgrade head: no table of over 0 rows rewritten: content (1000 rows) was rewritten: "
        "its time grows with the table"
    ) in result.failures


def test_a_rewrite_within_its_budget_passes(golive_empty_database: str) -> None:
    broken = BROKEN / "locks_and_rewrites"
    result = MigrationDrill(
        golive_empty_database, SMALL, extra_versions=broken, budgets=Budgets(60_000, max_rewrite_rows=1_000)
    ).run()
    assert result.ok, result.failures
    (upgrade,) = [step for step in result.steps if step.name == "upgrade head"]
    assert "content" in upgrade.rewrites


def test_the_rollback_drill_fails_when_the_restarted_version_is_not_the_old_one(
    golive_stack: Stack, tmp_path: Path
) -> None:
    """The new version on the restored (old) schema: the drill must not call that a rollback."""
    with stack_database(golive_stack, "rollback") as database:
        result = RollbackDrill(database, golive_stack, tmp_path, SMALL, previous_app=APP).run()
    assert not result.ok
    assert [step.name for step in result.steps if not step.ok] == ["the previous version serves from it"]
    health, login = result.failures
    assert health.startswith(
        "the previous version serves from it: GET /health: healthy at the old revision: 200"
    )
    # It answers in the new format (the envelope), which the old clients do not read.
    assert login.startswith(
        "the previous version serves from it: legacy-user-2 logs in: "
        'login of legacy-user-2: no access_token in {"status":"success"'
    )
