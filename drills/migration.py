"""The migration drill: the guide's "Database Migrations" and "Database Rollback" on a database
full of legacy data, every revision's downgrade seen with data on both sides of it.

1. References: from an empty database, one revision at a time, the schema each revision defines
   (its catalog); the models are compared with head; `downgrade base` must leave nothing behind.
2. Legacy data at the first revision (sizes configurable), checksummed per column.
3. The ladder, for every revision N after the first, from N-1 holding data (the legacy rows and
   what was written into what the revisions before N added): upgrade N; data written into what
   N added; downgrade N -> N-1, which must give back every row and column N-1 held, checksum for
   checksum; upgrade N again, and its data written again for N+1 to start from. Only there is
   an older revision's downgrade seen: inside `downgrade base`, what it destroys is dropped by
   the revisions below it anyway.
4. downgrade base; upgrade head from base.
After each migration step: the schema equals the revision's reference, every legacy value is
intact while its table exists, data in what the step kept is intact (what it drops is reported),
the CHECK on circuit_breaker_state.state holds; each step's duration, locks and table rewrites
are recorded, and an ACCESS EXCLUSIVE lock held over its budget or a rewrite of a table holding
data fails the step.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import SQLAlchemyError

from golive.core.drill_evidence import Lock, Step
from golive.drills.alembic_steps import Migrator, StepRun
from golive.drills.budgets import Budgets
from golive.drills.catalog import Catalog, read_catalog
from golive.drills.data import LEGACY_TABLES, Snapshot, changes, seed_legacy, snapshot
from golive.drills.locks import storage_of
from golive.drills.result import DrillResult
from golive.drills.sizes import Sizes
from golive.fixtures.backend import Backend

Progress = Callable[[str], None]
# What the guide's migrations add (a table, or a table.column), and rows to put there: written by
# the revision that adds the target (or its table), in this order.
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
    # Never the default (0): a downgrade that kept the column must keep these values.
    "circuit_breaker_state.trips": """
        UPDATE circuit_breaker_state SET trips = 1 + coalesce(failure_count, 0)""",
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
            drill="migration",
            settings={
                "rows": sizes.rows(),
                "revisions": self.migrator.revisions,
                "max_lock_ms": budgets.max_lock_ms,
                "max_rewrite_rows": budgets.max_rewrite_rows,
                "max_index_build_rows": budgets.max_index_build_rows,
            },
        )
        self.references: dict[str | None, Catalog] = {}
        self.legacy: Snapshot = {}
        # Checksums of everything the database holds, taken when the last step left it: nothing
        # else writes to the drill's database, so the next step starts from them without a rescan.
        self.held: Snapshot = {}

    def run(self) -> DrillResult:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            self.connection = connection
            try:
                self._references()
                self._seed()
                self._ladder()
                self._migrate("downgrade base", "downgrade", "base", expected=None)
                self._migrate("upgrade head from base", "upgrade", "head", expected=self.migrator.head)
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
        step = Step(name="references: each revision from empty")
        for revision in self.migrator.revisions:
            self.progress(f"reference schema of {revision}")
            run = self._alembic(step, "upgrade", revision)
            step.seconds += run.seconds
            self.references[revision] = read_catalog(self.connection)
        step.revision = self.migrator.head
        step.check("the models match the head revision", self._model_differences())
        head = self.references[self.migrator.head]
        added = _added(self.references[self.migrator.revisions[0]], head)
        step.check(
            "the revisions add tables or columns the drill has data for",
            []
            if _writable(added, head)
            else [
                "they add none of the guide's new tables or columns: every downgrade would be seen "
                "without data in what it drops"
            ],
        )
        run = self._alembic(step, "downgrade", "base")
        step.check(
            "downgrade base from head leaves nothing",
            read_catalog(self.connection).diff(self.references[None]),
        )
        step.seconds = round(step.seconds + run.seconds, 3)
        self.result.steps.append(step)

    def _model_differences(self) -> list[str]:
        backend = Backend.current()
        metadata = backend.attribute("db.models", "Base").metadata
        sync_database_url = backend.attribute("db.urls", "sync_database_url")
        engine = create_engine(sync_database_url(self.dsn), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "compare_server_default": True}
                )
                return [_describe(difference) for difference in compare_metadata(context, metadata)]
        finally:
            engine.dispose()

    def _seed(self) -> None:
        first = self.migrator.revisions[0]
        self.progress(f"legacy data: {self.sizes.total} rows at {first}")
        step = Step(name=f"legacy data at {first}", revision=first)
        run = self._alembic(step, "upgrade", first)
        with psycopg.connect(self.dsn) as writer:
            seed_legacy(writer, self.sizes)
        catalog = read_catalog(self.connection)
        self.held = snapshot(
            self.connection, {table: catalog.column_names(table) for table in catalog.tables}
        )
        self.legacy = {table: self.held[table] for table in LEGACY_TABLES}
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

    def _ladder(self) -> None:
        """Each revision's downgrade, from the revision below it with data on both sides: the
        only place where what that downgrade destroys can be told apart."""
        for previous, revision in pairwise(self.migrator.revisions):
            added = _added(self.references[previous], self.references[revision])
            held = self._migrate(f"upgrade {revision}", "upgrade", revision, expected=revision)
            self._write_feature_data(f"data written into what {revision} added", revision, added)
            self._migrate(
                f"downgrade {revision} -> {previous}", "downgrade", previous, expected=previous, restores=held
            )
            self._migrate(f"upgrade {revision} again", "upgrade", revision, expected=revision)
            # The downgrade dropped that data: the next revision starts from data everywhere.
            self._write_feature_data(f"data written into what {revision} added, again", revision, added)

    def _migrate(
        self, name: str, action: str, target: str, expected: str | None, restores: Snapshot | None = None
    ) -> Snapshot:
        """One alembic step, checked. `restores`: what the database held at `expected` before it
        was upgraded from there, all of which the step must give back. Returns what the database
        held before the step."""
        self.progress(name)
        before_catalog, before_data = read_catalog(self.connection), self.held
        before_storage = storage_of(self.connection)
        step = Step(name=name)
        run = self._alembic(step, action, target)
        after = read_catalog(self.connection)
        step.seconds, step.revision = run.seconds, self.migrator.current()
        step.check(
            f"the database is at {expected or 'base'}",
            [] if step.revision == expected else [f"it is at {step.revision or 'base'}"],
        )
        step.check(f"the schema is {expected or 'base'}'s", after.diff(self.references[expected]))
        after_data = self.held = snapshot(self.connection, {t: after.column_names(t) for t in after.tables})
        step.check("data in what the step kept is intact", changes(before_data, after_data))
        if restores is not None:
            step.check(f"every row and column of {expected} is intact", _lost(restores, after_data))
        step.check("every legacy value is intact", self._legacy_problems(after, after_data))
        step.check("the CHECK on circuit_breaker_state.state holds", self._state_check_problems(after))
        dropped = _dropped(before_catalog, after, before_data)
        if dropped:
            step.figures["dropped"] = dropped
        self._record_locks(step, run, before_data, before_storage)
        self.result.steps.append(step)
        return before_data

    def _legacy_problems(self, catalog: Catalog, now: Snapshot) -> list[str]:
        """The legacy values `now` (checksums of all of `catalog`) holds differently or not at all."""
        present = {
            t: [c for c in self.legacy[t].columns if c in catalog.column_names(t)]
            for t in self.legacy
            if t in catalog.tables
        }
        if not present:
            self.legacy = {}  # base: the legacy tables are gone, as downgrade base says; so is the data
            return []
        problems = changes({t: self.legacy[t] for t in present}, now)
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

    def _write_feature_data(self, name: str, revision: str, added: set[str]) -> None:
        """Rows in what the revision added, so its downgrade has something to keep or drop."""
        if not added:
            return  # no table or column (a data migration, say): nothing to write into
        self.progress(name)
        step = Step(name=name, revision=revision)
        written: dict[str, int] = {}
        with self.connection.transaction():
            for target in _writable(added, self.references[revision]):
                written[target] = self.connection.execute(FEATURE_DATA[target]).rowcount
        step.figures["written"] = written
        catalog, tables = read_catalog(self.connection), {target.partition(".")[0] for target in written}
        self.held = {**self.held, **snapshot(self.connection, {t: catalog.column_names(t) for t in tables})}
        # An UPDATE of an empty table writes nothing: the downgrade would be seen without data.
        step.check("rows were written", [f"{target}: none" for target, rows in written.items() if not rows])
        if not written:
            # Not a failure: a backend may add more than the guide, which the drill has no rows for.
            step.warnings.append(
                f"the drill has no data for what {revision} added ({', '.join(sorted(added))}): "
                "its downgrade is seen with those empty"
            )
        self.result.steps.append(step)

    def _record_locks(self, step: Step, run: StepRun, before: Snapshot, storage: dict[str, int]) -> None:
        """Over budget is a failure, not a warning: in production the same step stops the
        readers and writers of a live table, for longer the more it holds."""
        now_storage = storage_of(self.connection)
        step.locks = [Lock(table=lock.table, mode=lock.mode, held_ms=lock.held_ms) for lock in run.locks]
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
        # SHARE is the lock only CREATE INDEX without CONCURRENTLY takes.
        rows_of = {lock.table: before[lock.table].rows if lock.table in before else 0 for lock in run.locks}
        blocking_builds = [
            f"{lock.table} ({rows_of[lock.table]} rows) indexed without CONCURRENTLY (SHARE lock, seen "
            f"{lock.held_ms:.0f} ms): every write to {lock.table} waits for the whole build, which grows "
            "with the table"
            for lock in run.locks
            if lock.mode == "ShareLock" and rows_of[lock.table] > self.budgets.max_index_build_rows
        ]
        step.check(
            f"no table of over {self.budgets.max_index_build_rows} rows indexed with its writes blocked",
            blocking_builds,
        )
        step.rewrites = sorted(t for t in storage if t in now_storage and now_storage[t] != storage[t])
        rewritten = [
            f"{table} ({before[table].rows} rows) was rewritten: its time grows with the table"
            for table in step.rewrites
            if before.get(table) and before[table].rows > self.budgets.max_rewrite_rows
        ]
        step.check(f"no table of over {self.budgets.max_rewrite_rows} rows rewritten", rewritten)


class _Aborted(Exception):
    pass


def _first_line(error: BaseException) -> str:
    """A database error as its first line ('relation "x" already exists'), not SQLAlchemy's page."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


def _added(before: Catalog, after: Catalog) -> set[str]:
    """The tables (`table`) and the columns of the other tables (`table.column`) that `after`
    has and `before` has not."""
    added = after.tables - before.tables
    for table in after.tables & before.tables:
        added |= {
            f"{table}.{column}"
            for column in after.column_names(table)
            if column not in before.column_names(table)
        }
    return added


def _writable(added: set[str], catalog: Catalog) -> list[str]:
    """The FEATURE_DATA targets among what was added (`_added`) to reach `catalog`: a table, or a
    column added on its own or with its table."""
    writable = []
    for target in FEATURE_DATA:
        table, _, column = target.partition(".")
        if target in added or (table in added and column in catalog.column_names(table)):
            writable.append(target)
    return writable


def _dropped(before: Catalog, after: Catalog, data: Snapshot) -> dict[str, int]:
    """What the step dropped, with the rows that held data there."""
    return {target: data[target.partition(".")[0]].rows for target in sorted(_added(after, before))}


def _lost(held: Snapshot, now: Snapshot) -> list[str]:
    """What `now` no longer holds of `held`: tables or columns gone, rows or values changed."""
    problems = [
        f"{table}: the table is gone ({was.rows} rows)" for table, was in held.items() if table not in now
    ]
    problems += [
        f"{table}.{column}: the column is gone ({was.rows} rows)"
        for table, was in held.items()
        if table in now
        for column in was.columns
        if column not in now[table].columns
    ]
    return problems + changes(held, now)


def _describe(difference: object) -> str:
    """An autogenerate difference, shortened to what a reader needs."""
    if isinstance(difference, list):  # modifications of one column come as a list
        return "; ".join(_describe(item) for item in difference)
    if isinstance(difference, tuple) and difference:
        kind = difference[0]
        if kind.startswith("modify_"):
            _, _, table, column, _, was, now = difference
            if kind == "modify_default":  # server defaults: what the column gets when none is given
                was, now = _default_text(was), _default_text(now)
            return f"{kind} {table}.{column}: database has {was}, models say {now}"
        if kind in ("add_column", "remove_column"):
            return f"{kind} {difference[2]}.{difference[3].name}"
        return f"{kind} {getattr(difference[-1], 'name', difference[-1])}"
    return str(difference)


def _default_text(default: object) -> str:
    """A server default as SQL (a DefaultClause's text), or "none"."""
    if default is None:
        return "none"
    argument = getattr(default, "arg", default)
    return repr(str(getattr(argument, "text", argument)))
