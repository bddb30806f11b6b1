"""Backups as the guide takes them (`pg_dump $DATABASE_URL > backup.sql`, `redis-cli --rdb
backup.rdb`), plus a manifest (size, sha256, the Alembic revision) written next to the dump, and
the vetting a restore needs before it touches anything: the file is whole, it restores, and what
it restores is exactly the schema of a revision of this backend.

A plain-SQL dump restores with `psql` whatever state it is in: a truncated one loads the tables
it reaches and stops, a flipped byte in a COPY row loads a wrong value. So nothing is restored
into the target until a scratch database next to it took the whole file without an error.

The tools, not a drill: the backup drill (backup.py) and the rollback drill (rollback.py) drive
them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis

from golive.drills.alembic_steps import Migrator
from golive.drills.catalog import read_catalog
from golive.drills.database import DrillDatabase
from golive.fixtures.processes import run_tool
from golive.fixtures.providers.local.postgres import PostgresNotFound, find_bindir

# pg_dump's last line in plain format: a file without it was cut short.
COMPLETE = b"-- PostgreSQL database dump complete"
TOOL_TIMEOUT = 600.0


class BackupError(RuntimeError):
    """A backup could not be taken or restored."""


class BackupRejected(BackupError):
    """The backup is not fit to restore: corrupt, truncated, or another schema's."""


@dataclass(frozen=True)
class Manifest:
    file: str
    bytes: int
    sha256: str
    revision: str | None
    taken_at: str
    pg_dump: str

    @staticmethod
    def path_for(backup: Path) -> Path:
        return backup.with_name(backup.name + ".manifest.json")

    def write(self, backup: Path) -> Path:
        path = self.path_for(backup)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, backup: Path) -> Manifest | None:
        path = cls.path_for(backup)
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as error:
            raise BackupRejected(f"{path.name}: not a golive backup manifest ({error})") from None


def tool(name: str) -> str:
    """pg_dump / psql of the newest local Postgres (a dump needs a pg_dump at least as new as the
    server), else the one on PATH."""
    try:
        candidate = find_bindir() / name
        if candidate.is_file():
            return str(candidate)
    except PostgresNotFound:
        pass
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install the Debian package postgresql-client")
    return found


def _run(argv: list[str], what: str) -> str:
    try:
        completed = run_tool(argv, timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: no answer in {TOOL_TIMEOUT:.0f} s") from None
    if completed.returncode != 0:
        message = next((line for line in completed.stderr.splitlines() if "ERROR" in line), None)
        message = message or (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{what}: {message.strip()}")
    return completed.stdout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def revision_of(dsn: str) -> str | None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
        if connection.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def take_backup(dsn: str, path: Path) -> Manifest:
    """`pg_dump` in plain SQL (the guide's format), without owners and grants so that any role
    can restore it, and its manifest next to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pg_dump = tool("pg_dump")
    _run([pg_dump, "--no-owner", "--no-privileges", "--file", str(path), dsn], "pg_dump")
    version = _run([pg_dump, "--version"], "pg_dump --version").strip()
    manifest = Manifest(
        file=path.name,
        bytes=path.stat().st_size,
        sha256=sha256_of(path),
        revision=revision_of(dsn),
        taken_at=datetime.now(UTC).isoformat(timespec="seconds"),
        pg_dump=version,
    )
    manifest.write(path)
    return manifest


def restore(path: Path, dsn: str) -> None:
    """`psql < backup.sql` as one transaction that stops at the first error: all or nothing."""
    _run(
        [tool("psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--single-transaction",
         "--file", str(path), "--dbname", dsn],
        f"restore of {path.name}",
    )  # fmt: skip


@dataclass(frozen=True)
class VettedBackup:
    path: Path
    revision: str
    manifest: Manifest | None


def vet(
    path: Path, database: DrillDatabase, migrator: Migrator, *, revision: str | None = None
) -> VettedBackup:
    """Proves `path` is fit to restore, touching only scratch databases of the drill's own:
    whole (manifest and pg_dump's last line), restorable (into a scratch database, all of it),
    and this backend's schema at a known revision (`revision` when given) exactly."""
    if not path.is_file():
        raise BackupRejected(f"{path}: no such file")
    manifest = Manifest.read(path)
    size = path.stat().st_size
    if manifest is not None:
        if size != manifest.bytes:
            raise BackupRejected(
                f"{path.name}: {size} bytes, its manifest says {manifest.bytes}: truncated or altered"
            )
        if sha256_of(path) != manifest.sha256:
            raise BackupRejected(f"{path.name}: sha256 differs from its manifest's: the file is corrupt")
    if size == 0:
        raise BackupRejected(f"{path.name}: the file is empty")
    with path.open("rb") as stream:
        stream.seek(max(size - 256, 0))
        tail = stream.read()
    if COMPLETE not in tail:
        raise BackupRejected(f"{path.name}: does not end with pg_dump's completion line: truncated")
    with database.sibling("vet") as scratch:
        try:
            restore(path, scratch)
        except BackupError as error:
            raise BackupRejected(f"{path.name} does not restore: {error}") from None
        found = revision_of(scratch)
        with psycopg.connect(scratch, autocommit=True) as connection:
            restored = read_catalog(connection)
    if found is None:
        raise BackupRejected(f"{path.name}: no alembic_version table: not a backup of this backend")
    if found not in migrator.revisions:
        raise BackupRejected(
            f"{path.name}: revision {found} is not one of this backend's ({', '.join(migrator.revisions)})"
        )
    if revision is not None and found != revision:
        raise BackupRejected(f"{path.name}: the backup is at revision {found}, the restore needs {revision}")
    if manifest is not None and manifest.revision != found:
        raise BackupRejected(f"{path.name}: holds revision {found}, its manifest says {manifest.revision}")
    with database.sibling("reference") as reference:
        Migrator(reference, migrator.extra_versions).run("upgrade", found)
        with psycopg.connect(reference, autocommit=True) as connection:
            expected = read_catalog(connection)
    differences = restored.diff(expected)
    if differences:
        raise BackupRejected(
            f"{path.name}: its schema is not revision {found}'s: {'; '.join(differences[:5])}"
        )
    return VettedBackup(path, found, manifest)


# --- Redis ------------------------------------------------------------------------------------


def snapshot_redis(url: str, path: Path) -> int:
    """The guide's `redis-cli --rdb FILE`: the server's whole dataset as an RDB file. Returns its size."""
    redis_cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    if not Path(redis_cli).is_file():
        raise BackupError("redis-cli not found: install the Debian package redis-tools")
    location = urlsplit(url)
    argv = [redis_cli, "-h", location.hostname or "127.0.0.1", "-p", str(location.port or 6379)]
    if location.password:
        argv += ["-a", location.password, "--no-auth-warning"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([*argv, "--rdb", str(path)], "redis-cli --rdb")
    with path.open("rb") as stream:
        if stream.read(5) != b"REDIS":
            raise BackupError(f"{path.name}: redis-cli wrote no RDB file")
    return path.stat().st_size


@dataclass(frozen=True)
class RedisValue:
    type: str
    value: object  # canonical: sets sorted, hashes as sorted pairs (DUMP's bytes depend on encoding)
    expires_at_ms: int  # -1: no expiry


# redis-py types its replies loosely (sync or async, bytes or str): the readers take Any.
_READERS: dict[str, Callable[[Any, bytes], object]] = {
    "string": lambda client, key: client.get(key),
    "hash": lambda client, key: tuple(sorted(client.hgetall(key).items())),
    "list": lambda client, key: tuple(client.lrange(key, 0, -1)),
    "set": lambda client, key: tuple(sorted(client.smembers(key))),
    "zset": lambda client, key: tuple(client.zrange(key, 0, -1, withscores=True)),
    "stream": lambda client, key: tuple((i, tuple(sorted(f.items()))) for i, f in client.xrange(key)),
}


def redis_contents(client: redis.Redis) -> dict[bytes, RedisValue]:
    """Every key of the client's database with its value and absolute expiry."""
    contents = {}
    for key in client.scan_iter(count=1000):
        reply = client.type(key)
        kind = reply.decode() if isinstance(reply, bytes) else str(reply)
        if kind == "none":
            continue  # expired while we looked
        reader = _READERS.get(kind)
        value = reader(client, key) if reader else client.dump(key)
        contents[key] = RedisValue(kind, value, int(client.pexpiretime(key)))
    return contents


def redis_differences(
    before: dict[bytes, RedisValue], after: dict[bytes, RedisValue], now_ms: int
) -> list[str]:
    """What `after` lost or holds differently. A key whose expiry has passed is rightly gone."""
    problems = []
    for key, value in sorted(before.items()):
        restored = after.get(key)
        if restored is None:
            if not 0 <= value.expires_at_ms <= now_ms:
                problems.append(f"{key.decode(errors='replace')}: missing")
        elif restored != value:
            what = "expiry" if (restored.type, restored.value) == (value.type, value.value) else "value"
            problems.append(f"{key.decode(errors='replace')}: {what} differs")
    extra = sorted(set(after) - set(before))
    problems += [f"{key.decode(errors='replace')}: not in the snapshot" for key in extra]
    return problems
