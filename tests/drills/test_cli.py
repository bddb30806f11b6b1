"""`golive drill` as an operator runs it: its refusals, its output, its files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg

from golive.drills.runner import stack_database
from golive.fixtures.stack import Stack
from tests.drills.test_parts import tables_of
from tests.harness.golive import run_golive
from tests.harness.leaks import assert_no_survivors, new_marker

SMALL = ["--users", "50", "--content", "300", "--agent-metrics", "5"]


def golive_drill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_golive("drill", *args, env=env)


def test_an_unknown_drill_is_named(tmp_path: Path) -> None:
    run = golive_drill("migration", "nope", "--run-dir", str(tmp_path))
    assert run.returncode == 2
    assert "no drill named 'nope': choose from migration, rollback, flags, backup, or all" in run.stderr
    assert "Traceback" not in run.stderr


def test_wipe_needs_a_database_url() -> None:
    run = golive_drill("migration", "--wipe-database")
    assert run.returncode == 2
    assert "--wipe-database applies to --database-url only" in run.stderr


def test_a_database_that_holds_something_is_refused_untouched(golive_database: str) -> None:
    before = tables_of(golive_database)
    run = golive_drill("migration", "--database-url", golive_database)
    assert run.returncode == 2
    assert "is not empty (table agent_metrics, table alembic_version" in run.stderr
    assert "pass --wipe-database" in run.stderr
    assert tables_of(golive_database) == before


def test_a_role_that_cannot_create_the_restore_target_is_told_so(golive_empty_database: str) -> None:
    run = golive_drill("backup", "--database-url", golive_empty_database)
    assert run.returncode == 2
    assert "may not create databases" in run.stderr
    assert "grant CREATEDB" in run.stderr


def test_an_unreachable_database_is_named_without_its_password(golive_unused_port: int) -> None:
    run = golive_drill(
        "migration", "--database-url", f"postgresql://drill:s3cret@127.0.0.1:{golive_unused_port}/x"
    )
    assert run.returncode == 2
    assert f"cannot use postgresql://drill:***@127.0.0.1:{golive_unused_port}/x" in run.stderr
    assert "s3cret" not in run.stderr
    assert "Traceback" not in run.stderr


def test_drills_in_a_given_database_wiped_first_leave_the_rest_of_the_server_alone(
    golive_stack: Stack, tmp_path: Path
) -> None:
    with (
        stack_database(golive_stack, "given") as given,
        stack_database(golive_stack, "bystander") as bystander,
    ):
        for dsn in (given.dsn, bystander.dsn):
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("CREATE TABLE leftover (id int)")
        run = golive_drill(
            "migration",
            "backup",
            "--database-url",
            given.dsn,
            "--wipe-database",
            *SMALL,
            "--max-lock-ms",
            "5000",
            "--max-rewrite-rows",
            "7",
            "--run-dir",
            str(tmp_path),
        )
        assert run.returncode == 0, run.stderr
        assert tables_of(bystander.dsn) == ["public.leftover"]
        with psycopg.connect(given.dsn) as connection:
            databases = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{given.name}_%",)
            )
            assert databases.fetchall() == []  # its restore targets and scratch copies are gone
    for name in ("migration", "backup"):
        result = json.loads((tmp_path / f"drill-{name}.json").read_text())
        assert result["ok"] is True
        assert result["drill"] == name
    # The run's own budgets, not the defaults, judged the migration.
    settings = json.loads((tmp_path / "drill-migration.json").read_text())["settings"]
    assert (settings["max_lock_ms"], settings["max_rewrite_rows"]) == (5000, 7)
    recorded = json.loads((tmp_path / "run.json").read_text())["commands"]["drill"]
    assert recorded["drills"] == {"migration": True, "backup": True}
    assert recorded["exit_code"] == 0
    password = str(psycopg.conninfo.conninfo_to_dict(given.dsn)["password"])
    assert password not in (tmp_path / "run.json").read_text()
    assert "PASS: every drill passed" in run.stderr
    assert "upgrade head from base" in run.stderr  # progress and the step table


def test_on_the_local_stack_a_failing_drill_fails_the_command_and_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    run = golive_drill("rollback", *SMALL[:2], "--content", "1", "--run-dir", str(tmp_path), env=marker)
    assert_no_survivors(marker)
    # One content row: legacy-user-2 has none to read back, which the drill says.
    assert run.returncode == 1, run.stderr
    result = json.loads((tmp_path / "drill-rollback.json").read_text())
    assert result["ok"] is False
    assert (
        "legacy data at 0001: the legacy user has content to read back: legacy-user-2 has none" in run.stderr
    )
    assert "FAIL: see the failures above" in run.stderr
