"""The rollback drill: the guide's emergency rollback, end to end.

Phase 1 as the guide says: legacy data at the first revision, a `pg_dump` backup and a Redis
snapshot (`redis-cli --rdb`). Then the migration, and the new version of the backend serving
traffic that writes (users, content, idempotency keys, metrics, Redis state). Then the rollback:
the new version stopped, the backup vetted and restored into a fresh database, which must equal
the pre-migration snapshot exactly (every table's checksums, sequences, the schema, the revision);
the previous version of the backend started on it must serve the legacy data; the Redis snapshot,
loaded by a new Redis server, must hold every key with the value and expiry it had.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import redis
from sqlalchemy.exc import SQLAlchemyError

from golive.core import http_clients
from golive.core.drill_evidence import Step
from golive.drills.alembic_steps import Migrator
from golive.drills.backup_tools import (
    BackupError,
    RedisValue,
    redis_contents,
    redis_differences,
    restore,
    snapshot_redis,
    take_backup,
    vet,
)
from golive.drills.data import LEGACY_PASSWORD, database_state, seed_legacy
from golive.drills.database import DrillDatabase, UnsafeDatabase
from golive.drills.result import DrillResult
from golive.drills.sizes import Sizes
from golive.fixtures.backend import Backend
from golive.fixtures.processes import ProcessError
from golive.fixtures.providers.local.redis import LocalRedis
from golive.fixtures.stack import Stack
from golive.fixtures.sut import SutCluster

Progress = Callable[[str], None]
ADMIN = "legacy-user-1"  # seeded as an admin (see drills.data)
USER = "legacy-user-2"
# Keys of every Redis type, with and without expiry, beside whatever the backend keeps there.
PLANTED: dict[str, Callable[[redis.Redis, str], Any]] = {
    "string": lambda client, key: client.set(key, "Résumé ✓ \x00 bytes"),
    "string-with-ttl": lambda client, key: client.set(key, "expires in an hour", ex=3600),
    "hash": lambda client, key: client.hset(key, mapping={"a": "1", "b": "two", "c": "3.0"}),
    "list": lambda client, key: client.rpush(key, *[f"item-{index}" for index in range(100)]),
    "set": lambda client, key: client.sadd(key, *[f"member-{index}" for index in range(50)]),
    "sorted-set": lambda client, key: client.zadd(
        key, {f"player-{index}": index * 1.5 for index in range(50)}
    ),
    "stream": lambda client, key: [client.xadd(key, {"event": f"e{index}"}) for index in range(20)],
}
# The step's reason when it cannot run (listed in the report: n/a, never a silent pass).
NO_PREVIOUS_VERSION = (
    "{package} has no legacy:app (the version before the migration, an optional entry of the "
    "backend contract), so no previous version was started on the restored database"
)
CONTENT_REQUESTS = 20
NEW_USERS = 5


class RollbackDrill:
    def __init__(
        self,
        database: DrillDatabase,
        stack: Stack,
        work_dir: Path,
        sizes: Sizes,
        *,
        previous_app: str | None = None,
        progress: Progress = lambda message: None,
    ) -> None:
        # The version before the migration: the backend's legacy app (its contract's optional
        # entry); without one, the restore is checked but no previous version serves from it.
        backend = Backend.current()
        legacy = f"{backend.package}.legacy:app" if backend.has("legacy") else None
        self.previous_app = previous_app or legacy
        self.database = database
        self.stack = stack
        self.work_dir = work_dir
        self.sizes = sizes
        self.progress = progress
        self.migrator = Migrator(database.dsn)
        self.first = self.migrator.revisions[0]
        self.result = DrillResult(
            drill="rollback",
            settings={
                "rows": sizes.rows(),
                "revisions": self.migrator.revisions,
                "previous_version": self.previous_app,
            },
        )
        self.redis_url = stack.scratch_redis_url()
        self.clusters: list[SutCluster] = []

    def run(self) -> DrillResult:
        try:
            self._legacy()
            backup, rdb, redis_before = self._backup()
            self._upgrade()
            self._traffic()
            self._stop_new_version()
            restored = self._restore(backup)
            self._previous_version(restored)
            self._restore_redis(rdb, redis_before)
        except (
            psycopg.Error,
            SQLAlchemyError,
            BackupError,
            UnsafeDatabase,
            httpx.HTTPError,
            redis.RedisError,
            ProcessError,
        ) as error:
            self.result.error = f"{type(error).__name__}: {error}"
        finally:
            for cluster in self.clusters:
                cluster.stop()
            self.database.drop_created()
        return self.result.finish()

    # --- before the migration ------------------------------------------------------------------

    def _legacy(self) -> None:
        self.progress(f"legacy data: {self.sizes.total} rows at {self.first}")
        step = Step(name=f"legacy data at {self.first}", revision=self.first)
        started = time.perf_counter()
        self.migrator.run("upgrade", self.first)
        with psycopg.connect(self.database.dsn) as connection:
            seed_legacy(connection, self.sizes)
        with redis.Redis.from_url(self.redis_url) as client:
            for kind, plant in PLANTED.items():
                plant(client, f"golive:drill:{kind}")
        self.before = database_state(self.database.dsn)
        self.user_content = _content_of(self.database.dsn, USER)
        step.seconds = round(time.perf_counter() - started, 3)
        step.figures = {table: checksum.rows for table, checksum in self.before.tables.items()}
        step.check(
            "the legacy user has content to read back", [] if self.user_content else [f"{USER} has none"]
        )
        self.result.steps.append(step)

    def _backup(self) -> tuple[Path, Path, dict[bytes, RedisValue]]:
        self.progress("backup: pg_dump and redis-cli --rdb")
        step = Step(name="backup (pg_dump, redis-cli --rdb)", revision=self.first)
        stamp = time.strftime("%Y%m%d_%H%M%S")
        started = time.perf_counter()
        backup = self.work_dir / f"backup_{stamp}.sql"
        manifest = take_backup(self.database.dsn, backup)
        # The whole Redis server, as the guide's command takes it; compared on the drill's database.
        rdb = self.work_dir / f"backup_redis_{stamp}.rdb"
        rdb_bytes = snapshot_redis(self.stack_redis_url, rdb)
        with redis.Redis.from_url(self.redis_url) as client:
            redis_before = redis_contents(client)
        step.seconds = round(time.perf_counter() - started, 3)
        step.figures = {"backup": str(backup), "backup_bytes": manifest.bytes, "rdb_bytes": rdb_bytes}
        step.check(
            f"the backup is at {self.first}",
            [] if manifest.revision == self.first else [f"it is at {manifest.revision}"],
        )
        step.check(
            "Redis holds the planted keys", [] if len(redis_before) >= len(PLANTED) else ["keys missing"]
        )
        self.result.steps.append(step)
        return backup, rdb, redis_before

    @property
    def stack_redis_url(self) -> str:
        assert self.stack.redis is not None
        return self.stack.redis.url

    # --- the new version -----------------------------------------------------------------------

    def _upgrade(self) -> None:
        self.progress("upgrade head")
        step = Step(name="upgrade head")
        run = self.migrator.run("upgrade", "head")
        step.seconds, step.revision = run.seconds, self.migrator.current()
        step.check(
            "the database is at head",
            [] if step.revision == self.migrator.head else [f"it is at {step.revision}"],
        )
        self.result.steps.append(step)

    def _traffic(self) -> None:
        self.progress("traffic through the new version")
        step = Step(name="traffic through the new version that writes", revision=self.migrator.head)
        started = time.perf_counter()
        cluster = self._start(None, self.database.dsn, "new")
        statuses: dict[str, int] = {}
        with http_clients.Client(base_url=cluster.urls[0], timeout=30) as client:
            admin = _login(client, ADMIN, envelope=True)
            for index in range(NEW_USERS):
                response = client.post(
                    "/api/v1/users",
                    headers=admin,
                    json={"username": f"written-after-backup-{index}", "password": "x" * 12},
                )
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            user = _login(client, USER, envelope=True)
            for index in range(CONTENT_REQUESTS):
                response = client.post(
                    "/api/v1/content/generate",
                    headers={**user, "Idempotency-Key": f"drill-rollback-{index}"},
                    json={"prompt": f"written after the backup #{index}", "agent": "content-generator"},
                )
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
        after = database_state(self.database.dsn).tables
        step.seconds = round(time.perf_counter() - started, 3)
        step.figures = {
            "responses": statuses,
            "rows_now": {table: value.rows for table, value in after.items()},
        }
        written = [
            f"{table}: {after[table].rows - self.before.tables[table].rows} rows more"
            for table in ("users", "content")
            if table in after and after[table].rows > self.before.tables[table].rows
        ]
        step.check(
            "the new version wrote users and content",
            [] if len(written) == 2 else [f"responses {statuses}; rows written: {written or 'none'}"],
        )
        self.result.steps.append(step)

    def _stop_new_version(self) -> None:
        for cluster in self.clusters:
            cluster.stop()
        self.clusters.clear()

    # --- the rollback --------------------------------------------------------------------------

    def _restore(self, backup: Path) -> str:
        self.progress("vet the backup and restore it into a fresh database")
        step = Step(name="restore the backup into a fresh database")
        started = time.perf_counter()
        vetted = vet(backup, self.database, self.migrator, revision=self.first)
        restored = self.database.create_sibling("restored")
        restore(vetted.path, restored)
        now = database_state(restored)
        step.seconds = round(time.perf_counter() - started, 3)
        step.revision = Migrator(restored).current()
        step.check(
            f"the restored database is at {self.first}",
            [] if step.revision == self.first else [f"it is at {step.revision}"],
        )
        step.check("the schema is the pre-migration schema", self.before.schema_differences(now))
        step.check("every table equals the pre-migration snapshot", self.before.data_differences(now))
        step.check("sequences continue where they were", self.before.sequence_differences(now))
        self.result.steps.append(step)
        return restored

    def _previous_version(self, restored: str) -> None:
        self.progress("the previous version on the restored database")
        step = Step(name="the previous version serves from it", revision=self.first)
        self.result.steps.append(step)
        if self.previous_app is None:
            step.not_applicable = NO_PREVIOUS_VERSION.format(package=Backend.current().package)
            return
        started = time.perf_counter()
        cluster = self._start(self.previous_app, restored, "previous")
        with http_clients.Client(base_url=cluster.urls[0], timeout=30) as client:
            step.check("GET /health: healthy at the old revision", self._health_problems(client))
            try:
                headers = _login(client, USER, envelope=False)
            except httpx.HTTPError as error:
                step.check(f"{USER} logs in", [str(error)])
                return
            listed = client.get("/api/v1/content", headers=headers, params={"limit": 1000})
            served = _list_of(listed, lambda item: (item["id"], item["prompt"]))
            step.check(
                f"{USER}'s content is served as it was",
                []
                if served == self.user_content
                else [f"{listed.status_code}: {len(served)} items served, {len(self.user_content)} expected"],
            )
            metrics = client.get("/api/v1/agents/metrics", headers=headers)
            count = len(_list_of(metrics, lambda item: item["agent_name"]))
            step.check(
                "agent metrics are served",
                [] if count == self.sizes.agent_metrics else [f"{metrics.status_code}: {count} rows"],
            )
        step.seconds = round(time.perf_counter() - started, 3)

    def _health_problems(self, client: httpx.Client) -> list[str]:
        health = client.get("/health")
        try:
            revision = health.json().get("revision")
        except ValueError:
            revision = None
        return (
            []
            if health.status_code == 200 and revision == self.first
            else [f"{health.status_code} {health.text[:200]}"]
        )

    def _restore_redis(self, rdb: Path, before: dict[bytes, RedisValue]) -> None:
        self.progress("Redis: a new server loads the snapshot")
        step = Step(name="Redis restored from the RDB snapshot")
        started = time.perf_counter()
        database = self.redis_url.rsplit("/", 1)[1]
        server = LocalRedis(self.stack.log_dir, snapshot=rdb, name="redis-restored").start()
        try:
            with redis.Redis.from_url(server.url.rsplit("/", 1)[0] + f"/{database}") as client:
                after = redis_contents(client)
        finally:
            server.stop()
        step.seconds = round(time.perf_counter() - started, 3)
        step.figures = {"keys": len(after)}
        step.check(
            "every key has the value and expiry it had",
            redis_differences(before, after, int(time.time() * 1000)),
        )
        # The guide's restore step runs `redis-cli --rdb FILE`, which downloads a snapshot into
        # FILE: it restores nothing. A Redis server loads an RDB at start, as done here.
        step.warnings.append(
            "the guide's restore command `redis-cli --rdb FILE` takes a snapshot, it does not restore one: "
            "stop Redis, put the file in its dir as its dbfilename, start it"
        )
        self.result.steps.append(step)

    def _start(self, app: str | None, dsn: str, name: str) -> SutCluster:
        env = {**self.stack.sut_env, "DATABASE_URL": dsn, "REDIS_URL": self.redis_url}
        log_dir = self.stack.log_dir / "drills" / f"rollback-{name}"
        cluster = SutCluster(env, log_dir, self.stack.run_dir / "sut", **({"app": app} if app else {}))
        self.clusters.append(cluster)
        return cluster.start(1)


def _content_of(dsn: str, username: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT c.id::text, c.prompt FROM content c JOIN users u ON u.id = c.user_id"
            " WHERE u.username = %s ORDER BY c.created_at, c.id",
            (username,),
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


T = TypeVar("T")


def _list_of(response: httpx.Response, item: Callable[[Any], T]) -> list[T]:
    """The items of a JSON list answer; none when the answer is anything else."""
    try:
        body = response.json()
        return (
            [item(entry) for entry in body] if response.status_code == 200 and isinstance(body, list) else []
        )
    except (ValueError, KeyError, TypeError):
        return []


def _login(client: httpx.Client, username: str, *, envelope: bool) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": LEGACY_PASSWORD})
    if response.status_code != 200:
        raise httpx.HTTPError(f"login of {username} failed: {response.status_code} {response.text[:200]}")
    body = response.json()
    token = (body.get("data") or {}).get("access_token") if envelope else body.get("access_token")
    if not isinstance(token, str):
        raise httpx.HTTPError(f"login of {username}: no access_token in {response.text[:200]}")
    return {"Authorization": f"Bearer {token}"}
