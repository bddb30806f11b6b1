"""The migration drill: the guide's "Database Migrations" and "Database Rollback" on a database
full of legacy data.

1. References: from an empty database, one revision at a time, the schema each revision defines
   (its catalog); the models are compared with head; `downgrade base` must leave nothing behind.
2. Legacy data at the first revision (sizes configurable), checksummed per column.
3. upgrade head, then data written into what the migration added; downgrade -1; upgrade head;
   downgrade base; upgrade head. After each: the schema equals the revision's reference, every
   legacy value is intact while its table exists, data in what a downgrade keeps is intact (what
   it drops is reported), the CHECK on circuit_breaker_state.state holds; each step's duration,
   locks and table rewrites are recorded, and an ACCESS EXCLUSIVE lock held over its budget or a
   rewrite of a table holding data fails the step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import SQLAlchemyError

from golive.drills.budgets import Budgets
from golive.drills.catalog import Catalog, read_catalog
from golive.drills.data import LEGACY_TABLES, Sizes, Snapshot, changes, seed_legacy, snapshot
from golive.drills.locks import storage_of
from golive.drills.migrator import Migrator, StepRun
from golive.drills.result import DrillResult, Step
from golive.system_under_test.db.models import Base
from golive.system_under_test.db.urls import sync_database_url

Progress = Callable[[str], None]
# What the guide's migration added (a table, or a table.column), and rows to put there.
FEATURE_DATA = {
    "circuit_breaker_state": """
        INSERT INTO circuit_breaker_state (name, state, failure_count, last_failure_time, next_attempt_time)
        VALUES ('ai-service', 'OPEN', 5, now(), now() + interval '60 seconds'),
               ('database', 'CLOSED', 0, NULL, NULL),
               ('redis', 'HALF_OPEN', 2, now(), now())""",
    "rate_limit_state": """
        INSERT INTO rate_limit_state (identifier, tokens, last_refill, window_start, request_count)
        SELECT 'user-' || id, id % 20, now(), now(), id % 100 FROM users ORDER BY id LIMIT 500""",
    "agent_metrics.circuit_breaker_trips": """
        UPDATE agent_metrics
        SET circuit_breaker_trips = id % 7, rate_limit_hits = id * 3, avg_response_time = id * 0.25""",
    "idempotency_keys": """
        INSERT INTO idempotency_keys (user_id, key, fingerprint, status, content_id, response_status)
        SELECT user_id, 'drill-' || id, md5(prompt), 'completed', id, 201 FROM content
        ORDER BY id LIMIT 500""",
}


class MigrationDrill:
    def __init__(
        self,
        dsn: str,
        sizes: Sizes,
        *,
        extra_versions: Path | None = None,
        budgets: Budgets = Budgets(),  # noqa: B008 - frozen
        progress: Progress = lambda message: None,
    ) -> None:
        self.dsn = dsn
        self.sizes = sizes
        self.migrator = Migrator(dsn, extra_versions)
        self.budgets = budgets
        self.progress = progress
        self.result = DrillResult(
            "migration",
            settings={
                "rows": sizes.rows(),
                "revisions": self.migrator.revisions,
                "max_lock_ms": budgets.max_lock_ms,
                "max_rewrite_rows": budgets.max_rewrite_rows,
            },
        )
        self.references: dict[str | None, Catalog] = {}
        self.legacy: Snapshot = {}

    def run(self) -> DrillResult:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            self.connection = connection
            try:
                self._references()
                self._seed()
                head, previous = self.migrator.head, self._previous(self.migrator.head)
                self._migrate("upgrade head", "upgrade", "head", expected=head)
                self._write_feature_data()
                self._migrate("downgrade -1", "downgrade", "-1", expected=previous)
                self._migrate("upgrade head again", "upgrade", "head", expected=head)
                self._migrate("downgrade base", "downgrade", "base", expected=None)
                self._migrate("upgrade head from base", "upgrade", "head", expected=head)
            except _Aborted:
                pass  # the failed step says why
            except (psycopg.Error, SQLAlchemyError, ValueError, RuntimeError) as error:
                self.result.error = _first_line(error)
        return self.result.finish()

    def _alembic(self, step: Step, action: str, target: str) -> StepRun:
        """Runs the alembic command; a failure ends the drill with the step that failed."""
        try:
            return self.migrator.run(action, target)
        except (SQLAlchemyError, psycopg.Error) as error:
            step.check(f"alembic {action} {target} succeeds", [_first_line(error)])
            self.result.steps.append(step)
            raise _Aborted from error

    # --- the steps -----------------------------------------------------------------------------

    def _references(self) -> None:
        self.references[None] = read_catalog(self.connection)
        if self.references[None].relations:
            raise RuntimeError("the drill's database is not empty: it needs one of its own")
        step = Step("references: each revision from empty")
        for revision in self.migrator.revisions:
            self.progress(f"reference schema of {revision}")
            run = self._alembic(step, "upgrade", revision)
            step.seconds += run.seconds
            self.references[revision] = read_catalog(self.connection)
        step.revision = self.migrator.head
        step.check("the models match the head revision", self._model_differences())
        run = self._alembic(step, "downgrade", "base")
        step.check(
            "downgrade base from head leaves nothing",
            read_catalog(self.connection).diff(self.references[None]),
        )
        step.seconds = round(step.seconds + run.seconds, 3)
        self.result.steps.append(step)

    def _model_differences(self) -> list[str]:
        engine = create_engine(sync_database_url(self.dsn), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                return [_describe(difference) for difference in compare_metadata(context, Base.metadata)]
        finally:
            engine.dispose()

    def _seed(self) -> None:
        first = self.migrator.revisions[0]
        self.progress(f"legacy data: {self.sizes.total} rows at {first}")
        step = Step(f"legacy data at {first}", revision=first)
        run = self._alembic(step, "upgrade", first)
        with psycopg.connect(self.dsn) as writer:
            seed_legacy(writer, self.sizes)
        catalog = read_catalog(self.connection)
        self.legacy = snapshot(
            self.connection, {table: catalog.column_names(table) for table in LEGACY_TABLES}
        )
        step.seconds = run.seconds
        step.figures = {table: checksum.rows for table, checksum in self.legacy.items()}
        step.check(
            "the legacy rows are all there",
            [
                f"{table}: {self.legacy[table].rows} rows, expected {expected}"
                for table, expected in self.sizes.rows().items()
                if self.legacy[table].rows != expected
            ],
        )
        self.result.steps.append(step)

    def _migrate(self, name: str, action: str, target: str, expected: str | None) -> None:
        self.progress(name)
        before_catalog = read_catalog(self.connection)
        before_data = snapshot(
            self.connection, {t: before_catalog.column_names(t) for t in before_catalog.tables}
        )
        before_storage = storage_of(self.connection)
        step = Step(name)
        run = self._alembic(step, action, target)
        after = read_catalog(self.connection)
        step.seconds, step.revision = run.seconds, self.migrator.current()
        step.check(
            f"the database is at {expected or 'base'}",
            [] if step.revision == expected else [f"it is at {step.revision or 'base'}"],
        )
        step.check(f"the schema is {expected or 'base'}'s", after.diff(self.references[expected]))
        kept = {
            t: [c for c in before_catalog.column_names(t) if c in after.column_names(t)]
            for t in before_catalog.tables & after.tables
        }
        after_data = snapshot(self.connection, kept)
        step.check("data in what the step kept is intact", changes(before_data, after_data))
        step.check("every legacy value is intact", self._legacy_problems(after))
        step.check("the CHECK on circuit_breaker_state.state holds", self._state_check_problems(after))
        dropped = _dropped(before_catalog, after, before_data)
        if dropped:
            step.figures["dropped"] = dropped
        self._record_locks(step, run, before_data, before_storage)
        self.result.steps.append(step)

    def _legacy_problems(self, catalog: Catalog) -> list[str]:
        present = {
            t: [c for c in self.legacy[t].columns if c in catalog.column_names(t)]
            for t in self.legacy
            if t in catalog.tables
        }
        if not present:
            self.legacy = {}  # base: the legacy tables are gone, as downgrade base says; so is the data
            return []
        problems = changes({t: self.legacy[t] for t in present}, snapshot(self.connection, present))
        for table in present:
            lost = [c for c in self.legacy[table].columns if c not in present[table]]
            problems += [f"{table}.{column}: the legacy column is gone" for column in lost]
        return problems

    def _state_check_problems(self, catalog: Catalog) -> list[str]:
        if "circuit_breaker_state" not in catalog.tables:
            return []
        problems = []
        for state, accepted in (("OPEN", True), ("HALF_OPEN", True), ("BROKEN", False), ("open", False)):
            try:
                with self.connection.transaction(force_rollback=True):
                    self.connection.execute(
                        "INSERT INTO circuit_breaker_state (name, state) VALUES ('golive-drill-probe', %s)",
                        (state,),
                    )
                if not accepted:
                    problems.append(f"state {state!r} was accepted")
            except psycopg.errors.CheckViolation:
                if accepted:
                    problems.append(f"state {state!r} was refused")
        return problems

    def _write_feature_data(self) -> None:
        """Rows in what the migration added, so downgrades have something to keep or drop."""
        self.progress("data in the new tables and columns")
        catalog = read_catalog(self.connection)
        step = Step("data written into the new schema", revision=self.migrator.current())
        written: dict[str, int] = {}
        with self.connection.transaction():
            for target, statement in FEATURE_DATA.items():
                table, _, column = target.partition(".")
                if table in catalog.tables and (not column or column in catalog.column_names(table)):
                    written[target] = self.connection.execute(statement).rowcount
        step.figures["written"] = written
        step.check(
            "something was written", [] if written else ["the head schema has none of the guide's new tables"]
        )
        self.result.steps.append(step)

    def _record_locks(self, step: Step, run: StepRun, before: Snapshot, storage: dict[str, int]) -> None:
        """Over budget is a failure, not a warning: in production the same step stops the
        readers and writers of a live table, for longer the more it holds."""
        now_storage = storage_of(self.connection)
        step.locks = [{"table": lock.table, "mode": lock.mode, "held_ms": lock.held_ms} for lock in run.locks]
        long_locks = []
        for lock in run.locks:
            rows = before[lock.table].rows if lock.table in before else 0
            if lock.mode == "AccessExclusiveLock" and rows and lock.held_ms > self.budgets.max_lock_ms:
                long_locks.append(
                    f"ACCESS EXCLUSIVE on {lock.table} ({rows} rows) held {lock.held_ms:.0f} ms: "
                    f"readers and writers of {lock.table} wait that long"
                )
        budget = self.budgets.max_lock_ms
        step.check(f"no table with data locked exclusively over {budget:g} ms", long_locks)
        step.rewrites = sorted(t for t in storage if t in now_storage and now_storage[t] != storage[t])
        rewritten = [
            f"{table} ({before[table].rows} rows) was rewritten: its time grows with the table"
            for table in step.rewrites
            if before.get(table) and before[table].rows > self.budgets.max_rewrite_rows
        ]
        step.check(f"no table of over {self.budgets.max_rewrite_rows} rows rewritten", rewritten)

    def _previous(self, revision: str) -> str | None:
        index = self.migrator.revisions.index(revision)
        return self.migrator.revisions[index - 1] if index else None


class _Aborted(Exception):
    pass


def _first_line(error: BaseException) -> str:
    """A database error as its first line ('relation "x" already exists'), not SQLAlchemy's page."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


def _dropped(before: Catalog, after: Catalog, data: Snapshot) -> dict[str, int]:
    """What the step dropped, with the rows that held data there."""
    dropped = {table: data[table].rows for table in before.tables - after.tables if table in data}
    for table in before.tables & after.tables:
        for column in set(before.column_names(table)) - set(after.column_names(table)):
            dropped[f"{table}.{column}"] = data[table].rows if table in data else 0
    return dropped


def _describe(difference: object) -> str:
    """An autogenerate difference, shortened to what a reader needs."""
    if isinstance(difference, list):  # modifications of one column come as a list
        return "; ".join(_describe(item) for item in difference)
    if isinstance(difference, tuple) and difference:
        kind = difference[0]
        if kind.startswith("modify_"):
            _, _, table, column, _, was, now = difference
            return f"{kind} {table}.{column}: database has {was}, models say {now}"
        if kind in ("add_column", "remove_column"):
            return f"{kind} {difference[2]}.{difference[3].name}"
        return f"{kind} {getattr(difference[-1], 'name', difference[-1])}"
    return str(difference)
