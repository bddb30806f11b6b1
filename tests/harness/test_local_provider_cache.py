"""The local provider's cache of initialized Postgres clusters, with real initdb and real servers:
built on a miss, copied on a hit, a new entry for a new key, initdb again (once, with one warning)
when an entry is corrupt, whole when several runs build it at once; and a copy is a cluster that
starts, takes this run's password only, and has its seed. Each test has a cache of its own."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from golive.core.cache import cache_home
from golive.fixtures.providers.local import cluster_cache, scratch
from golive.fixtures.providers.local.cluster_cache import MANIFEST, ClusterCache, Key
from golive.fixtures.providers.local.postgres import INITDB_SETTINGS, LocalPostgres, find_bindir
from golive.fixtures.services import ClusterSeed, PostgresAdmin
from golive.fixtures.stack import APP_DATABASE, APP_ROLE, TEMPLATE_DATABASE, stack_seed
from tests.harness.golive import run_golive

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/golive-no-engine.sock"}
LOGGER = "golive.fixtures.providers.local.postgres"


class Servers:
    """Starts LocalPostgres servers for a test and stops every one of them afterwards."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[LocalPostgres] = []

    def start(self, cache: ClusterCache | None, seed: ClusterSeed | None = None) -> LocalPostgres:
        postgres = LocalPostgres(self.log_dir, seed=seed, cache=cache)
        self.started.append(postgres)
        return postgres.start()

    def stop(self) -> None:
        for postgres in self.started:
            postgres.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path / "logs")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def cache(tmp_path: Path) -> ClusterCache:
    return ClusterCache(tmp_path / "cache" / "postgres")


def key_of(seed: ClusterSeed | None = None) -> Key:
    return Key(cluster_cache.server_version(find_bindir()), INITDB_SETTINGS, seed.key if seed else None)


def answer(postgres: LocalPostgres, query: str, database: str = "postgres") -> object:
    with psycopg.connect(postgres.admin.dsn(database), connect_timeout=10) as connection:
        row = connection.execute(query).fetchone()
    assert row is not None
    return row[0]


def counting_seed(key: str) -> tuple[ClusterSeed, list[str]]:
    """A seed that makes a table, and the list of the servers it was applied to."""
    applied: list[str] = []

    def apply(admin: PostgresAdmin) -> None:
        with psycopg.connect(admin.endpoint.dsn("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE TABLE seeded (key text)"))
            connection.execute("INSERT INTO seeded VALUES (%s)", [key])
        applied.append(key)

    return ClusterSeed(key=key, apply=apply), applied


def test_a_miss_runs_initdb_and_caches_its_cluster(servers: Servers, cache: ClusterCache) -> None:
    postgres = servers.start(cache)
    assert postgres.made_by == "initdb"
    assert answer(postgres, "SELECT current_user") == "postgres"
    cached = cache.lookup(key_of())
    assert cached is not None
    assert (cached / "PG_VERSION").is_file()
    assert not (cached / "postmaster.pid").exists()  # cached before its server ever started
    assert [path.name for path in cache.root.iterdir()] == [key_of().digest]  # no staging left


def test_a_hit_copies_the_cluster_which_starts_and_takes_only_this_runs_password(
    servers: Servers, cache: ClusterCache
) -> None:
    first = servers.start(cache)
    second = servers.start(cache)
    assert second.made_by == "copy"
    assert second.datadir != first.datadir
    assert answer(second, "SELECT 1") == 1
    # The cache holds no password: each run's superuser has its own, and only its own.
    stranger = second.admin.dsn("postgres").replace(second.password, first.password)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(stranger, connect_timeout=10).close()


def test_a_seeded_cluster_is_cached_seeded_and_its_copies_are_not_seeded_again(
    servers: Servers, cache: ClusterCache
) -> None:
    seed, applied = counting_seed("one")
    made = servers.start(cache, seed)
    copied = servers.start(cache, seed)
    assert (made.made_by, copied.made_by) == ("initdb", "copy")
    assert applied == ["one"]
    assert answer(made, "SELECT key FROM seeded") == "one"
    assert answer(copied, "SELECT key FROM seeded") == "one"


def test_another_key_is_another_entry(servers: Servers, cache: ClusterCache) -> None:
    one, _ = counting_seed("one")
    other, applied = counting_seed("other")
    servers.start(cache, one)
    again = servers.start(cache, other)
    assert again.made_by == "initdb"
    assert applied == ["other"]
    assert cache.lookup(key_of(one)) is not None
    assert cache.lookup(key_of(other)) is not None
    # Another Postgres version or other initdb settings are other keys too.
    base = key_of()
    assert Key("postgres (PostgreSQL) 99.0", base.settings).digest != base.digest
    assert Key(base.version, (*base.settings, "--data-checksums")).digest != base.digest
    assert cache.lookup(Key("postgres (PostgreSQL) 99.0", base.settings)) is None


def test_an_entry_whose_cluster_is_corrupt_gives_way_to_initdb_and_is_rebuilt(
    servers: Servers, cache: ClusterCache, caplog: pytest.LogCaptureFixture
) -> None:
    servers.start(cache)
    cached = cache.lookup(key_of())
    assert cached is not None
    (cached / "global" / "pg_control").unlink()  # the manifest says whole: the server knows better
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        postgres = servers.start(cache)
    assert postgres.made_by == "initdb"
    assert answer(postgres, "SELECT 1") == 1
    warnings = [record for record in caplog.records if record.name == LOGGER]
    assert len(warnings) == 1
    assert "is unusable" in warnings[0].getMessage()
    rebuilt = cache.lookup(key_of())
    assert rebuilt is not None
    assert (rebuilt / "global" / "pg_control").is_file()
    assert servers.start(cache).made_by == "copy"


def test_an_entry_without_a_whole_manifest_is_not_used(servers: Servers, cache: ClusterCache) -> None:
    servers.start(cache)
    entry = cache.entry(key_of())
    (entry / MANIFEST).write_text("{not json")
    assert cache.lookup(key_of()) is None
    (entry / MANIFEST).write_text(json.dumps({**key_of().manifest(), "version": "another"}))
    assert cache.lookup(key_of()) is None
    postgres = servers.start(cache)
    assert postgres.made_by == "initdb"
    assert cache.lookup(key_of()) is not None  # rebuilt whole


def test_runs_building_the_same_entry_at_once_all_start_and_leave_one_whole_entry(
    servers: Servers, cache: ClusterCache
) -> None:
    seed, applied = counting_seed("shared")
    barrier = threading.Barrier(3)
    made: list[LocalPostgres] = []
    errors: list[BaseException] = []

    def run() -> None:
        postgres = LocalPostgres(servers.log_dir, seed=seed, cache=cache)
        servers.started.append(postgres)
        barrier.wait()
        try:
            made.append(postgres.start())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {answer(postgres, "SELECT key FROM seeded") for postgres in made} == {"shared"}
    assert [path.name for path in cache.root.iterdir()] == [key_of(seed).digest]
    assert cache.lookup(key_of(seed)) is not None
    assert applied  # at least one built it; whoever came after a whole entry copied it


def test_of_runs_storing_one_entry_at_once_one_stores_it_and_the_others_keep_theirs(
    servers: Servers, cache: ClusterCache
) -> None:
    servers.start(cache)
    source = cache.lookup(key_of())
    assert source is not None
    key = Key(key_of().version, INITDB_SETTINGS, "stored at once")
    barrier = threading.Barrier(4)
    stored: list[bool] = []
    errors: list[BaseException] = []

    def store() -> None:
        barrier.wait()
        try:
            stored.append(cache.store(key, source))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(stored) == [False, False, False, True]  # the first rename wins; no rename replaces it
    assert cache.lookup(key) is not None
    assert sorted(path.name for path in cache.root.iterdir()) == sorted([key_of().digest, key.digest])


def test_the_stacks_seed_is_cached_migrated(servers: Servers, cache: ClusterCache) -> None:
    seed = stack_seed()
    assert stack_seed().key == seed.key  # the same code and migrations, the same key
    servers.start(cache, seed)
    copied = servers.start(cache, seed)
    assert copied.made_by == "copy"
    app = PostgresAdmin(copied.admin).set_password(APP_ROLE, "a-password-of-this-run")
    for database in (TEMPLATE_DATABASE, APP_DATABASE):
        with psycopg.connect(app.dsn(database), connect_timeout=10) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert row is not None


def test_the_least_recently_used_entries_go_beyond_keep(
    servers: Servers, cache: ClusterCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_cache, "KEEP", 2)
    seeds = [counting_seed(name)[0] for name in ("a", "b", "c")]
    servers.start(cache, seeds[0])
    servers.start(cache, seeds[1])
    os.utime(cache.entry(key_of(seeds[0])) / MANIFEST, (1, 1))  # long unused
    servers.start(cache, seeds[2])
    assert sorted(path.name for path in cache.entries()) == sorted(key_of(s).digest for s in seeds[1:])


def test_where_the_cache_is_and_how_to_turn_it_off(tmp_path: Path) -> None:
    assert cache_home({"GOLIVE_CACHE_DIR": "/somewhere", "XDG_CACHE_HOME": "/x"}) == Path("/somewhere")
    assert cache_home({"XDG_CACHE_HOME": "/x"}) == Path("/x/golive")
    assert cache_home({}) == Path.home() / ".cache" / "golive"
    assert ClusterCache.default({"GOLIVE_CACHE_DIR": str(tmp_path)}) is not None
    for off in ("off", "0", "false", "no", "OFF"):
        assert ClusterCache.default({"GOLIVE_PG_CACHE": off}) is None


def test_without_the_cache_every_run_runs_initdb(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GOLIVE_PG_CACHE", "off")
    assert servers.start(None).made_by == "initdb"
    assert servers.start(None).made_by == "initdb"
    assert not (tmp_path / "cache").exists()


@pytest.fixture
def memory() -> Iterator[Path]:
    """A dir that stands in for /dev/shm: open to all as it is (Postgres may run as another user)."""
    path = Path(tempfile.mkdtemp(prefix="golive-test-memory-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_cluster_is_in_memory_when_there_is_room_and_in_the_temp_dir_otherwise(
    servers: Servers, cache: ClusterCache, monkeypatch: pytest.MonkeyPatch, memory: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr(scratch, "MEMORY", memory)
    monkeypatch.setattr(scratch, "MEMORY_ROOM", 1)  # this test's dir stands in for /dev/shm
    in_memory = servers.start(cache)
    assert in_memory.base.parent == memory
    assert answer(in_memory, "SELECT 1") == 1
    assert in_memory.base in [found.path for found in scratch.scratch_dirs()]  # `golive clean` sees it

    monkeypatch.setattr(scratch, "MEMORY_ROOM", 1 << 62)  # more than any machine has
    assert servers.start(cache).base.parent == Path(tempfile.gettempdir())
    monkeypatch.setattr(scratch, "MEMORY_ROOM", 1)
    monkeypatch.setenv("GOLIVE_PG_MEMORY", "off")
    assert servers.start(cache).base.parent == Path(tempfile.gettempdir())
    monkeypatch.setenv("GOLIVE_PG_MEMORY", str(tmp_path))  # a directory of its own instead
    assert scratch.memory_base() == tmp_path
    monkeypatch.delenv("GOLIVE_PG_MEMORY")
    monkeypatch.setattr(scratch, "MEMORY", tmp_path / "absent")
    assert scratch.memory_base() is None


def test_clean_removes_the_leftovers_of_killed_builds_and_with_cache_every_entry(
    servers: Servers, tmp_path: Path
) -> None:
    cache = ClusterCache(tmp_path / "cache" / "postgres")
    servers.start(cache)
    killed = cache.root / f"{cluster_cache.STAGING_PREFIX}killed"
    killed.mkdir()
    (killed / cluster_cache.OWNER).write_text(json.dumps({"owner": "999999999:1"}))  # no such process
    building = cache.root / f"{cluster_cache.STAGING_PREFIX}building"
    building.mkdir()  # not marked yet: its owner is between two lines
    env = {**NO_ENGINE, "GOLIVE_CACHE_DIR": str(tmp_path / "cache")}

    clean = run_golive("clean", env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert not killed.exists()
    assert building.is_dir()
    assert cache.lookup(key_of()) is not None

    dry = run_golive("clean", "--cache", "--dry-run", env=env, timeout=120)
    assert "1 cached Postgres cluster(s) to remove" in dry.stderr
    assert cache.lookup(key_of()) is not None
    clean = run_golive("clean", "--cache", env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert "1 cached Postgres cluster(s) removed" in clean.stderr
    assert cache.entries() == []
