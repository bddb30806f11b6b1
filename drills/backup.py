"""The backup drill: a backup that is corrupt, truncated or from another schema is refused before
the restore touches anything.

A good backup of legacy data is taken at the first revision (the guide's Phase 1), the database
is migrated, and its state is recorded. Then each bad backup below, made from the good one or
from another database, is vetted as a rollback would vet it: it must be refused with the reason
named, and the database must be exactly as it was. The good backup must pass the same vetting
and restore to the data it was taken from: a vetting that refuses everything proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from golive.core.drill_evidence import Step
from golive.drills.alembic_steps import Migrator
from golive.drills.backup_tools import BackupError, BackupRejected, Manifest, restore, take_backup, vet
from golive.drills.data import database_state, seed_legacy
from golive.drills.database import DrillDatabase, UnsafeDatabase
from golive.drills.result import DrillResult
from golive.drills.sizes import Sizes

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BadBackup:
    name: str
    reason: str  # what the refusal must say
    make: Callable[[BackupDrill, Path], Path]  # writes the bad backup into the directory, returns it


def _copy(good: Path, target: Path, data: bytes, *, manifest: bool) -> Path:
    target.write_bytes(data)
    if manifest:
        Manifest.path_for(target).write_bytes(Manifest.path_for(good).read_bytes())
    return target


def _flipped(drill: BackupDrill, directory: Path) -> Path:
    """One letter of an e-mail address changed in a COPY row: psql would load it without a word."""
    data = bytearray(drill.good.read_bytes())
    at = data.index(b"@school", data.index(b"COPY public.users"))
    data[at + 1] = ord("z")
    return _copy(drill.good, directory / "flipped.sql", bytes(data), manifest=True)


def _garbled(drill: BackupDrill, directory: Path) -> Path:
    """Bytes overwritten in the middle of a statement, and no manifest to compare with."""
    data = bytearray(drill.good.read_bytes())
    at = data.index(b"CREATE TABLE public.content")
    data[at : at + 12] = b"\x00\xff GARBAGE\x13"
    return _copy(drill.good, directory / "garbled.sql", bytes(data), manifest=False)


def _halved(manifest: bool) -> Callable[[BackupDrill, Path], Path]:
    def make(drill: BackupDrill, directory: Path) -> Path:
        data = drill.good.read_bytes()
        name = "truncated-with-manifest.sql" if manifest else "truncated.sql"
        return _copy(drill.good, directory / name, data[: len(data) // 2], manifest=manifest)

    return make


def _empty(drill: BackupDrill, directory: Path) -> Path:
    return _copy(drill.good, directory / "empty.sql", b"", manifest=False)


def _from_database(
    name: str, prepare: Callable[[BackupDrill, str], None]
) -> Callable[[BackupDrill, Path], Path]:
    """A whole, well-formed backup of another database that `prepare` set up."""

    def make(drill: BackupDrill, directory: Path) -> Path:
        with drill.database.sibling(name) as dsn:
            prepare(drill, dsn)
            path = directory / f"{name}.sql"
            take_backup(dsn, path)
        return path

    return make


def _other_application(drill: BackupDrill, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE invoices (id bigserial PRIMARY KEY, total numeric(12, 2) NOT NULL)")
        connection.execute("INSERT INTO invoices (total) SELECT n * 1.5 FROM generate_series(1, 100) n")


def _at_head(drill: BackupDrill, dsn: str) -> None:
    Migrator(dsn).run("upgrade", "head")


def _altered(drill: BackupDrill, dsn: str) -> None:
    """The right revision on record, a schema someone changed by hand."""
    Migrator(dsn).run("upgrade", drill.first)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("ALTER TABLE users ADD COLUMN nickname text")


BAD_BACKUPS = (
    BadBackup("corrupt: a byte changed in a row", "sha256 differs from its manifest", _flipped),
    BadBackup("corrupt: a statement garbled, no manifest", "does not restore", _garbled),
    BadBackup("truncated, with its manifest", "its manifest says", _halved(manifest=True)),
    BadBackup(
        "truncated, no manifest", "does not end with pg_dump's completion line", _halved(manifest=False)
    ),
    BadBackup("empty", "the file is empty", _empty),
    BadBackup(
        "another application's database",
        "no alembic_version table",
        _from_database("other", _other_application),
    ),
    BadBackup("this backend at another revision", "the restore needs", _from_database("head", _at_head)),
    BadBackup(
        "the right revision, a schema changed by hand", "is not revision", _from_database("altered", _altered)
    ),
)


class BackupDrill:
    def __init__(
        self,
        database: DrillDatabase,
        work_dir: Path,
        sizes: Sizes,
        *,
        progress: Progress = lambda message: None,
    ) -> None:
        self.database = database
        self.work_dir = work_dir
        self.sizes = sizes
        self.progress = progress
        self.migrator = Migrator(database.dsn)
        self.first = self.migrator.revisions[0]
        self.good = work_dir / "good.sql"
        self.result = DrillResult(
            drill="backup", settings={"cases": [bad.name for bad in BAD_BACKUPS], "revision": self.first}
        )

    def run(self) -> DrillResult:
        try:
            self._prepare()
            for bad in BAD_BACKUPS:
                self._refused(bad)
            self._good_restores()
        except (psycopg.Error, SQLAlchemyError, BackupError, UnsafeDatabase, OSError) as error:
            self.result.error = f"{type(error).__name__}: {error}"
        finally:
            self.database.drop_created()
        return self.result.finish()

    def _prepare(self) -> None:
        self.progress(f"legacy data at {self.first}, a good backup, upgrade head")
        step = Step(name="a good backup, then the migration")
        started = time.perf_counter()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.migrator.run("upgrade", self.first)
        with psycopg.connect(self.database.dsn) as connection:
            seed_legacy(connection, self.sizes)
        self.backed_up = database_state(self.database.dsn)
        manifest = take_backup(self.database.dsn, self.good)
        self.migrator.run("upgrade", "head")
        self.target = database_state(self.database.dsn)
        step.seconds = round(time.perf_counter() - started, 3)
        step.revision = self.migrator.current()
        step.figures = {"backup_bytes": manifest.bytes, "revision": manifest.revision}
        step.check(
            f"the backup is at {self.first}",
            [] if manifest.revision == self.first else [str(manifest.revision)],
        )
        self.result.steps.append(step)

    def _refused(self, bad: BadBackup) -> None:
        self.progress(bad.name)
        step = Step(name=bad.name)
        started = time.perf_counter()
        path = bad.make(self, self.work_dir)
        try:
            vet(path, self.database, self.migrator, revision=self.first)
            refusal = None
        except BackupRejected as error:
            refusal = str(error)
        finally:  # made from the good one: only the good one is worth keeping
            path.unlink(missing_ok=True)
            Manifest.path_for(path).unlink(missing_ok=True)
        step.seconds = round(time.perf_counter() - started, 3)
        step.figures = {"file": path.name, "refusal": refusal}
        step.check(
            f"refused: {bad.reason}",
            ["it was accepted"] if refusal is None else ([] if bad.reason in refusal else [refusal]),
        )
        step.check("the database is untouched", self._target_problems())
        self.result.steps.append(step)

    def _good_restores(self) -> None:
        self.progress("the good backup")
        step = Step(name="the good backup is accepted and restores")
        started = time.perf_counter()
        try:
            vetted = vet(self.good, self.database, self.migrator, revision=self.first)
            step.check("accepted", [])
        except BackupRejected as error:
            step.check("accepted", [str(error)])
            self.result.steps.append(step)
            return
        with self.database.sibling("restored") as restored:
            restore(vetted.path, restored)
            step.check(
                "it restores what it was taken from", self.backed_up.differences(database_state(restored))
            )
        step.check("the database is untouched", self._target_problems())
        step.seconds = round(time.perf_counter() - started, 3)
        self.result.steps.append(step)

    def _target_problems(self) -> list[str]:
        return self.target.differences(database_state(self.database.dsn))
