"""The drills' parts on their own: the seeded users' password, catalog comparison, the database
safety rules, backup vetting, Redis snapshots, drill selection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import redis
from argon2 import PasswordHasher

from golive.core.redaction import redact
from golive.drills.alembic_steps import Migrator
from golive.drills.backup_tools import (
    BackupRejected,
    Manifest,
    RedisValue,
    redis_contents,
    redis_differences,
    snapshot_redis,
    take_backup,
    vet,
)
from golive.drills.catalog import _same_definition
from golive.drills.data import LEGACY_HASH, LEGACY_PASSWORD
from golive.drills.database import DrillDatabase, UnsafeDatabase
from golive.drills.rollback import PLANTED
from golive.drills.runner import UnknownDrill, select, stack_database
from golive.fixtures.providers.local.redis import LocalRedis
from golive.fixtures.stack import Stack


def test_the_seeded_users_hash_is_of_the_legacy_password() -> None:
    assert PasswordHasher().verify(LEGACY_HASH, LEGACY_PASSWORD)


def test_constraints_deparsed_two_ways_are_the_same_but_other_values_are_not() -> None:
    migrated = (
        "c: CHECK (((state)::text = ANY "
        "((ARRAY['OPEN'::character varying, 'CLOSED'::character varying])::text[])))"
    )
    restored = (
        "c: CHECK (((state)::text = ANY "
        "(ARRAY[('OPEN'::character varying)::text, ('CLOSED'::character varying)::text])))"
    )
    assert _same_definition(migrated, restored)
    assert not _same_definition(migrated, restored.replace("CLOSED", "SHUT"))
    assert not _same_definition(migrated, None)
    assert _same_definition(None, None)


def test_drills_are_selected_in_order_once_and_all_means_every_one() -> None:
    assert [drill.name for drill in select(["backup", "migration", "backup"])] == ["backup", "migration"]
    assert [drill.name for drill in select(["flags", "all"])] == ["flags", "migration", "rollback", "backup"]
    with pytest.raises(
        UnknownDrill, match="no drill named 'nope': choose from migration, rollback, flags, backup"
    ):
        select(["nope"])


def test_redis_differences_name_what_was_lost_or_changed() -> None:
    now = int(time.time() * 1000)
    before = {
        b"kept": RedisValue("string", b"v", -1),
        b"expired": RedisValue("string", b"v", now - 1),
        b"lost": RedisValue("hash", ((b"a", b"1"),), now + 60_000),
        b"changed": RedisValue("list", (b"1", b"2"), -1),
        b"moved-expiry": RedisValue("string", b"v", now + 60_000),
    }
    after = {
        b"kept": RedisValue("string", b"v", -1),
        b"changed": RedisValue("list", (b"2", b"1"), -1),
        b"moved-expiry": RedisValue("string", b"v", -1),
        b"new": RedisValue("string", b"x", -1),
    }
    assert redis_differences(before, after, now) == [
        "changed: value differs",
        "lost: missing",
        "moved-expiry: expiry differs",
        "new: not in the snapshot",
    ]
    assert redis_differences(before, {**before}, now) == []


def test_a_redis_snapshot_restores_every_type_with_its_expiry(tmp_path: Path) -> None:
    source = LocalRedis(tmp_path).start()
    try:
        url = source.url.rsplit("/", 1)[0] + "/3"
        with redis.Redis.from_url(url) as client:
            for kind, plant in PLANTED.items():
                plant(client, kind)
            before = redis_contents(client)
        assert {value.type for value in before.values()} == {
            "string",
            "hash",
            "list",
            "set",
            "zset",
            "stream",
        }
        assert snapshot_redis(source.url, tmp_path / "backup.rdb") > 0
    finally:
        source.stop()
    restored = LocalRedis(tmp_path, snapshot=tmp_path / "backup.rdb", name="restored").start()
    try:
        with redis.Redis.from_url(restored.url.rsplit("/", 1)[0] + "/3") as client:
            after = redis_contents(client)
            assert redis_differences(before, after, int(time.time() * 1000)) == []
            client.lpop("list")
            assert redis_differences(before, redis_contents(client), int(time.time() * 1000)) == [
                "list: value differs"
            ]
    finally:
        restored.stop()


# --- the drill's database --------------------------------------------------------------------


def tables_of(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def test_a_database_that_holds_something_is_refused_and_left_alone(golive_database: str) -> None:
    before = tables_of(golive_database)
    with pytest.raises(
        UnsafeDatabase,
        match=r"is not empty \(table agent_metrics, table alembic_version, table circuit_breaker_state",
    ):
        DrillDatabase(golive_database).ensure_empty(wipe=False)
    assert tables_of(golive_database) == before


def test_wiping_drops_the_public_schema_of_that_database_only(golive_stack: Stack) -> None:
    with (
        stack_database(golive_stack, "wiped") as target,
        stack_database(golive_stack, "bystander") as bystander,
    ):
        for dsn in (target.dsn, bystander.dsn):
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("CREATE TABLE public.keep_me (id int)")
                connection.execute("CREATE SCHEMA audit")
                connection.execute("CREATE TABLE audit.log (id int)")
        target.ensure_empty(wipe=True)
        assert tables_of(target.dsn) == ["audit.log"]
        assert target.contents() == []
        assert tables_of(bystander.dsn) == ["audit.log", "public.keep_me"]


def test_it_drops_only_databases_it_created(golive_stack: Stack) -> None:
    with stack_database(golive_stack, "owner") as database, stack_database(golive_stack, "other") as other:
        with pytest.raises(ValueError, match="the drill did not create database"):
            database.drop(other.dsn)
        sibling = database.create_sibling("restored")
        assert sibling.rsplit("/", 1)[1].startswith(f"{database.name}_restored_1_")
        database.drop_created()
        with pytest.raises(psycopg.OperationalError, match="does not exist"):
            psycopg.connect(sibling).close()
        assert other.contents() == []  # still there to ask


def test_a_role_without_createdb_is_told_so(golive_database: str) -> None:
    drill_database = DrillDatabase(golive_database)
    assert not drill_database.can_create_databases()
    with pytest.raises(UnsafeDatabase, match="the drill needs a role with CREATEDB"):
        drill_database.create_sibling("restored")


def test_passwords_are_redacted_from_messages() -> None:
    assert redact("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact("postgresql://db/x") == "postgresql://db/x"


# --- vetting backups -------------------------------------------------------------------------


@pytest.fixture
def first_revision_backup(golive_stack: Stack, tmp_path: Path) -> Iterator[tuple[DrillDatabase, Path]]:
    with stack_database(golive_stack, "vet") as database:
        Migrator(database.dsn).run("upgrade", "0001")
        path = tmp_path / "backup.sql"
        take_backup(database.dsn, path)
        yield database, path


def test_a_manifest_that_misstates_the_revision_is_refused(
    first_revision_backup: tuple[DrillDatabase, Path],
) -> None:
    database, path = first_revision_backup
    manifest = Manifest.read(path)
    assert manifest is not None
    assert manifest.revision == "0001"
    Manifest(**{**manifest.__dict__, "revision": "0003"}).write(path)
    with pytest.raises(BackupRejected, match="holds revision 0001, its manifest says 0003"):
        vet(path, database, Migrator(database.dsn), revision="0001")
    assert database.created == []


def test_a_manifest_that_is_not_one_is_refused(first_revision_backup: tuple[DrillDatabase, Path]) -> None:
    database, path = first_revision_backup
    Manifest.path_for(path).write_text("{not json")
    with pytest.raises(BackupRejected, match=r"backup\.sql\.manifest\.json: not a golive backup manifest"):
        vet(path, database, Migrator(database.dsn))


def test_a_missing_backup_is_refused(first_revision_backup: tuple[DrillDatabase, Path]) -> None:
    database, path = first_revision_backup
    with pytest.raises(BackupRejected, match="no such file"):
        vet(path.with_name("absent.sql"), database, Migrator(database.dsn))


def test_a_good_backup_without_a_manifest_passes_on_its_content(
    first_revision_backup: tuple[DrillDatabase, Path],
) -> None:
    database, path = first_revision_backup
    Manifest.path_for(path).unlink()
    vetted = vet(path, database, Migrator(database.dsn), revision="0001")
    assert (vetted.revision, vetted.manifest) == ("0001", None)


def test_migrations_side_by_side_in_one_process_each_run_whole(golive_stack: Stack) -> None:
    """Lanes run drills (and stacks seed their databases) in threads of one process, and alembic
    migrates through module-level proxies: without golive's lock, one thread's migration ran the
    other's scripts ("relation does not exist", KeyError 'script')."""
    with (
        golive_stack.scratch_database(migrated=False) as first,
        golive_stack.scratch_database(migrated=False) as second,
    ):
        migrators = [Migrator(first), Migrator(second)]
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda migrator: migrator.run("upgrade", "head"), migrators))
        assert [migrator.current() for migrator in migrators] == [migrators[0].head] * 2
        assert all(run.seconds > 0 for run in runs)
