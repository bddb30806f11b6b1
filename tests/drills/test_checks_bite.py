"""The drills' checks bite. The migration drill, on each deliberately broken migration
(tests/drills/broken/, added as revision 0005 after the backend's own), fails and says precisely
what is wrong, and so it does on a scratch copy of the backend's migrations with a defect of the
selftest's catalogue below head; the rollback drill fails when the version it restarts cannot
serve the old schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from golive.drills.budgets import Budgets
from golive.drills.migration import MigrationDrill
from golive.drills.rollback import RollbackDrill
from golive.drills.runner import stack_database
from golive.drills.sizes import Sizes
from golive.fixtures.backend import Backend
from golive.fixtures.providers import create_provider
from golive.fixtures.stack import Stack
from golive.stages.selftest import DEFAULT_CATALOGUE, apply_patch, parse_defect

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
                "downgrade 0005 -> 0004: every row and column of 0004 is intact: "
                "content.result: values changed (1000 rows)",
                "downgrade 0005 -> 0004: every legacy value is intact: "
                "content.result: values changed (1000 rows)",
                "downgrade 0005 -> 0004: data in what the step kept is intact: "
                "content.result: values changed",
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
            "default_mismatch",
            [
                "references: each revision from empty: the models match the head revision: "
                "modify_default agent_metrics.rate_limit_hits: database has none, models say '0'"
            ],
        ),
        (
            "orphan_table",
            [
                "references: each revision from empty: downgrade base from head leaves nothing: "
                "unexpected table drill_orphan",
                "upgrade 0005: alembic upgrade 0005 succeeds: "
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
    (locked,) = [f for f in result.failures if f.startswith("upgrade 0005: no table with data locked")]
    assert locked.startswith("upgrade 0005: no table with data locked exclusively over 200 ms: ")
    assert "ACCESS EXCLUSIVE on content (1000 rows) held" in locked
    assert (
        "upgrade 0005: no table of over 0 rows rewritten: content (1000 rows) was rewritten: "
        "its time grows with the table"
    ) in result.failures


def test_an_index_built_without_concurrently_on_a_table_with_data_fails_the_drill(
    golive_empty_database: str,
) -> None:
    result = MigrationDrill(golive_empty_database, SMALL, extra_versions=BROKEN / "blocking_index").run()
    blocked = [f for f in result.failures if "indexed with its writes blocked" in f]
    assert blocked, result.failures
    assert blocked[0].startswith(
        "upgrade 0005: no table of over 0 rows indexed with its writes blocked: "
        "content (1000 rows) indexed without CONCURRENTLY (SHARE lock"
    )


def test_an_index_built_concurrently_blocks_no_writes(golive_empty_database: str) -> None:
    # (The drill still fails this revision on its models, which lack the index: not what is judged.)
    result = MigrationDrill(golive_empty_database, SMALL, extra_versions=BROKEN / "concurrent_index").run()
    (upgrade,) = [step for step in result.steps if step.name == "upgrade 0005"]
    (built,) = [check for check in upgrade.checks if "indexed with its writes blocked" in check.name]
    assert built.ok, built.detail
    # The revision left the migration's transaction (autocommit_block), as CONCURRENTLY must:
    # the drill ran it as the backend's environment does, and it succeeded.
    assert [check.detail for check in upgrade.checks if check.name.startswith("alembic upgrade")] == []
    assert result.error is None


def test_a_rewrite_within_its_budget_passes(golive_empty_database: str) -> None:
    broken = BROKEN / "locks_and_rewrites"
    result = MigrationDrill(
        golive_empty_database, SMALL, extra_versions=broken, budgets=Budgets(60_000, max_rewrite_rows=1_000)
    ).run()
    assert result.ok, result.failures
    (upgrade,) = [step for step in result.steps if step.name == "upgrade 0005"]
    assert "content" in upgrade.rewrites


def test_a_downgrade_below_head_that_loses_a_legacy_column_fails_at_its_own_rung(
    golive_empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 26: 0002's downgrade drops agent_metrics.errors_total. `downgrade base` hides it (0001
    drops the table anyway); only the rung 0002 -> 0001 of the ladder, with the data in place, sees it."""
    defect = parse_defect(DEFAULT_CATALOGUE / "26-migration-downgrade-drops-legacy-column.patch")
    # The defect applied to a copy of the backend, which the drill reaches as it reaches any
    # backend: through the contract (GOLIVE_APP), under a package name of its own.
    shutil.copytree(
        Backend.current().directory,
        tmp_path / "system_under_test",
        ignore=shutil.ignore_patterns("__pycache__", "tests"),
    )
    assert apply_patch(defect, tmp_path) is None
    (tmp_path / "system_under_test").rename(tmp_path / "golive_defect_26")
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setenv("GOLIVE_APP", "golive_defect_26.main:app")
    result = MigrationDrill(golive_empty_database, SMALL).run()
    assert not result.ok
    first_failed = next(step for step in result.steps if not step.ok)
    assert first_failed.name == "downgrade 0002 -> 0001"
    step_failures = [f for f in result.failures if f.startswith("downgrade 0002 -> 0001: ")]
    assert step_failures == [
        "downgrade 0002 -> 0001: the schema is 0001's: "
        "missing column agent_metrics.errors_total integer NOT NULL DEFAULT 0",
        "downgrade 0002 -> 0001: every row and column of 0001 is intact: "
        "agent_metrics.errors_total: the column is gone (10 rows)",
        "downgrade 0002 -> 0001: every legacy value is intact: "
        "agent_metrics.errors_total: the legacy column is gone",
    ]


def test_the_rollback_drill_fails_when_the_restarted_version_is_not_the_old_one(
    golive_stack: Stack, tmp_path: Path
) -> None:
    """The new version on the restored (old) schema: the drill must not call that a rollback."""
    with stack_database(golive_stack, "rollback") as database:
        result = RollbackDrill(
            database, golive_stack, tmp_path, SMALL, previous_app=Backend.current().app
        ).run()
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


def test_without_a_previous_version_its_step_is_n_a_with_the_reason_and_the_restore_still_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team's backend need not ship its pre-migration version (`legacy:app` is optional): the
    backup, the restore and the Redis snapshot are still drilled; only the previous version's
    serving is n/a, and says why."""
    shutil.copytree(
        Backend.current().directory,
        tmp_path / "golive_no_legacy",
        ignore=shutil.ignore_patterns("__pycache__", "tests", "legacy.py"),
    )
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("GOLIVE_APP", "golive_no_legacy.main:app")
    # A stack of its own: its backends get this environment (that backend, importable), as
    # `golive validate --app` gives them.
    with (
        Stack(create_provider("local"), tmp_path / "run") as stack,
        stack_database(stack, "rollback") as database,
    ):
        result = RollbackDrill(database, stack, tmp_path / "work", SMALL).run()
    assert result.ok, result.failures
    assert result.settings["previous_version"] is None
    (skipped,) = [step for step in result.steps if step.not_applicable]
    assert skipped.name == "the previous version serves from it"
    assert skipped.not_applicable is not None
    assert skipped.not_applicable.startswith("golive_no_legacy has no legacy:app")
    restored = [step for step in result.steps if "restore" in step.name]
    assert restored, [step.name for step in result.steps]
    assert all(step.ok and step.checks for step in restored)
