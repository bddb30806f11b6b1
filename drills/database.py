"""The drill's own database, and the only databases a drill may create or drop.

By default golive creates a fresh database on the local stack's Postgres. With `--database-url`
the drill runs in the named database instead; it must be empty unless the operator says the
drill may wipe it (its `public` schema, nothing else). Databases the drill needs besides (the
restore target of the rollback, scratch copies that vet a backup) are created next to it on the
same server, named after it, and dropped afterwards: nothing the drill did not create is dropped.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from golive.core.redaction import redact

SCHEMA = "public"


_RELATIONS = """
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
"""
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence"}


def _tables_first(row: tuple[str, str]) -> tuple[bool, str]:
    name, kind = row
    return (kind not in ("r", "p"), name)


class UnsafeDatabase(RuntimeError):
    """The database given to a drill holds something, and no one said it may be wiped."""


class DrillDatabase:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        parts = urlsplit(dsn)
        self.name = parts.path.lstrip("/")
        if not self.name:
            raise ValueError(f"{redact(dsn)}: the URL names no database")
        self._counter = itertools.count(1)
        self.created: list[str] = []

    # --- the drill's database ------------------------------------------------------------------

    def contents(self) -> list[str]:
        """What the database holds in its public schema ('table users', ...), tables first;
        empty when unused. Alembic's bookkeeping counts: it says a schema was migrated there."""
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            rows = connection.execute(_RELATIONS, {"schema": SCHEMA}).fetchall()
        return [f"{_KINDS.get(kind, 'relation')} {name}" for name, kind in sorted(rows, key=_tables_first)]

    def ensure_empty(self, *, wipe: bool) -> None:
        """Refuses a database that holds anything, unless `wipe`: then its public schema is
        dropped and created again (the rest of the server is not touched)."""
        found = self.contents()
        if not found:
            return
        if not wipe:
            listed = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise UnsafeDatabase(
                f"database {self.name!r} is not empty ({listed}): a drill migrates, seeds and "
                "restores it. Give it an empty database of its own, or pass "
                "--wipe-database to let the drill drop everything in its public schema first"
            )
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            # Re-created by the drill's role, which then owns it.
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))

    def can_create_databases(self) -> bool:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            row = connection.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        return bool(row and row[0])

    # --- databases of its own next to it -------------------------------------------------------

    def dsn_of(self, name: str) -> str:
        """The drill database's DSN with another database name: same server, same credentials."""
        parts = urlsplit(self.dsn)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def create_sibling(self, purpose: str) -> str:
        """A new empty database next to the drill's, dropped by `drop_created`. Returns its DSN."""
        # A random part: a database left by an earlier, killed drill is never taken over.
        name = f"{self.name[:40]}_{purpose[:10]}_{next(self._counter)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege as error:
                raise UnsafeDatabase(
                    f"cannot create database {name!r} next to {self.name!r} ({error.diag.message_primary}): "
                    "the drill needs a role with CREATEDB for its restore targets"
                ) from None
        self.created.append(name)
        return self.dsn_of(name)

    @contextmanager
    def sibling(self, purpose: str) -> Iterator[str]:
        dsn = self.create_sibling(purpose)
        try:
            yield dsn
        finally:
            self.drop(dsn)

    def drop(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        if name not in self.created:
            raise ValueError(f"the drill did not create database {name!r}: it does not drop it")
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            connection.execute(statement)
        self.created.remove(name)

    def drop_created(self) -> None:
        for name in list(self.created):
            self.drop(self.dsn_of(name))
