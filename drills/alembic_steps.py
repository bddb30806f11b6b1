"""Alembic steps run the way the drills need them: on a session whose pid is known (so its locks
can be watched), timed, optionally with more migration scripts than the backend's own (the tests
add deliberately broken ones). The tool every drill migrates with (the migration drill is
migration.py)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, pool, text

from golive.drills.locks import LOCKS, HeldLock, LockWatcher
from golive.fixtures.backend import BACKEND_CODE, Backend


@dataclass
class StepRun:
    seconds: float
    locks: list[HeldLock] = field(default_factory=list)


class Migrator:
    def __init__(self, dsn: str, extra_versions: Path | None = None) -> None:
        self.dsn = dsn
        self.extra_versions = extra_versions
        backend = Backend.current()
        self._sync_url = backend.attribute("db.urls", "sync_database_url")
        self.config = backend.attribute("db.migrate", "alembic_config")()
        if extra_versions is not None:
            script_location = Path(self.config.get_main_option("script_location") or "")
            locations = [str(script_location / "versions"), str(extra_versions)]
            self.config.set_main_option("version_locations", os.pathsep.join(locations))
        script = ScriptDirectory.from_config(self.config)
        # Base first: walk_revisions goes from the head down.
        self.revisions = [revision.revision for revision in script.walk_revisions()][::-1]
        if len(script.get_heads()) != 1:
            raise ValueError(f"the migrations have {len(script.get_heads())} heads: a drill needs one")

    @property
    def head(self) -> str:
        return self.revisions[-1]

    def current(self) -> str | None:
        engine = create_engine(self._sync_url(self.dsn), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                exists = connection.execute(text("SELECT to_regclass('public.alembic_version')")).scalar()
                if exists is None:
                    return None
                version: str | None = connection.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
                return version
        finally:
            engine.dispose()

    def run(self, action: str, target: str) -> StepRun:
        """`alembic <action> <target>` on one session, its locks watched until each commit.

        The migration's environment owns the transaction, as in production: a revision may leave
        it (`autocommit_block()`, for CREATE INDEX CONCURRENTLY). What the session holds is
        sampled once more just before every commit, so a lock too short for the watcher's
        sampling is still seen."""
        engine = create_engine(self._sync_url(self.dsn), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                connection.commit()  # that query's transaction: the migration begins its own
                with BACKEND_CODE:  # the step's time starts once no other migration runs
                    started = time.perf_counter()
                    with LockWatcher(self.dsn, pid) as watcher:

                        def before_commit(session: Connection) -> None:
                            # On the DBAPI connection: SQLAlchemy is in the middle of the commit.
                            with session.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
                                cursor.execute(LOCKS, {"pid": pid})
                                watcher.record([(table, mode) for table, mode in cursor.fetchall()])

                        event.listen(connection, "commit", before_commit)
                        try:
                            self.config.attributes["connection"] = connection
                            getattr(command, action)(self.config, target)
                            if connection.in_transaction():  # an environment that left it open
                                connection.commit()
                        finally:
                            event.remove(connection, "commit", before_commit)
            seconds = time.perf_counter() - started  # the commits included
            return StepRun(round(seconds, 3), sorted(watcher.held.values(), key=lambda lock: lock.table))
        finally:
            self.config.attributes.pop("connection", None)
            engine.dispose()
