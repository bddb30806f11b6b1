"""A database's schema as Postgres' own catalog describes it: tables and their columns in order
(types, nullability, defaults), constraints and indexes as Postgres would re-create them,
sequences, views. Two catalogs compare equal exactly when the schemas are the same, whatever
path (upgrade, downgrade, restore) led to them; `diff` says what differs, one line a difference."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg

SCHEMA = "public"
K = TypeVar("K", str, tuple[str, str])
# Alembic's bookkeeping: its content is the revision, which the drills check on their own.
BOOKKEEPING = "alembic_version"

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
"""
_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s AND tablename <> %(skip)s
"""
_RELATIONS = """
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
"""
_VIEWS = """
SELECT viewname, definition FROM pg_views WHERE schemaname = %(schema)s
"""
_KINDS = {"r": "table", "p": "table", "S": "sequence", "v": "view", "m": "materialized view"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str
    generated: str

    def describe(self) -> str:
        text = f"{self.type}{' NOT NULL' if self.not_null else ''}"
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        return text


@dataclass
class Catalog:
    relations: dict[str, str] = field(default_factory=dict)  # name -> "table", "sequence", "view"...
    columns: dict[str, tuple[Column, ...]] = field(default_factory=dict)  # table -> columns in order
    constraints: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, name) -> definition
    indexes: dict[str, str] = field(default_factory=dict)  # name -> CREATE INDEX ...
    views: dict[str, str] = field(default_factory=dict)
    unvalidated: set[tuple[str, str]] = field(default_factory=set)  # constraints NOT VALID

    @property
    def tables(self) -> set[str]:
        return {name for name, kind in self.relations.items() if kind == "table"}

    def column_names(self, table: str) -> list[str]:
        return [column.name for column in self.columns.get(table, ())]

    def diff(self, expected: Catalog) -> list[str]:
        """What this schema has that `expected` has not, and the other way round."""
        problems: list[str] = []
        for name in sorted(set(self.relations) | set(expected.relations)):
            mine, theirs = self.relations.get(name), expected.relations.get(name)
            if mine != theirs:
                if theirs is None:
                    problems.append(f"unexpected {mine} {name}")
                elif mine is None:
                    problems.append(f"missing {theirs} {name}")
                else:
                    problems.append(f"{name} is a {mine}, expected a {theirs}")
        for table in sorted(self.tables & expected.tables):
            problems += _column_diff(table, self.columns.get(table, ()), expected.columns.get(table, ()))
        # Constraints of a table only one side has: the table's difference says it all.
        shared = self.tables & expected.tables

        def on_shared(constraints: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
            return {key: value for key, value in constraints.items() if key[0] in shared}

        problems += _definition_diff(
            "constraint",
            on_shared(self.constraints),
            on_shared(expected.constraints),
            lambda key: f"{key[1]} on {key[0]}",
            _same_definition,
        )
        problems += _definition_diff("index", self.indexes, expected.indexes, str, lambda a, b: a == b)
        for name in sorted(set(self.views) & set(expected.views)):
            if self.views[name] != expected.views[name]:
                problems.append(f"view {name} differs")
        for table, name in sorted(self.unvalidated - expected.unvalidated):
            problems.append(f"constraint {name} on {table} is NOT VALID: existing rows were not checked")
        return problems


# Casts Postgres adds when it deparses an expression: `x IN ('a', 'b')` reads back as
# `x = ANY (ARRAY['a'::varchar, ...]::text[])` after a migration and, re-parsed from a dump, as
# `x = ANY (ARRAY[('a'::varchar)::text, ...])`: the same constraint, written two ways.
_CASTS = re.compile(r"::[a-z ]+(\[\])?")


def _same_definition(mine: str | None, theirs: str | None) -> bool:
    if mine is None or theirs is None:
        return mine is theirs

    def canonical(definition: str) -> str:
        return re.sub(r"[()\s]", "", _CASTS.sub("", definition))

    return canonical(mine) == canonical(theirs)


def _definition_diff(
    kind: str,
    mine: Mapping[K, str],
    theirs: Mapping[K, str],
    label: Callable[[K], str],
    same: Callable[[str, str], bool],
) -> list[str]:
    problems = []
    for key in sorted(set(mine) | set(theirs)):
        mine_def, their_def = mine.get(key), theirs.get(key)
        if their_def is None:
            problems.append(f"unexpected {kind} {label(key)}: {mine_def}")
        elif mine_def is None:
            problems.append(f"missing {kind} {label(key)}: {their_def}")
        elif not same(mine_def, their_def):
            problems.append(f"{kind} {label(key)} is {mine_def}, expected {their_def}")
    return problems


def _column_diff(table: str, mine: tuple[Column, ...], expected: tuple[Column, ...]) -> list[str]:
    problems = []
    theirs_by_name = {column.name: column for column in expected}
    mine_by_name = {column.name: column for column in mine}
    for column in mine:
        other = theirs_by_name.get(column.name)
        if other is None:
            problems.append(f"unexpected column {table}.{column.name} {column.describe()}")
        elif column != other:
            problems.append(
                f"column {table}.{column.name} is {column.describe()}, expected {other.describe()}"
            )
    for column in expected:
        if column.name not in mine_by_name:
            problems.append(f"missing column {table}.{column.name} {column.describe()}")
    common_mine = [column.name for column in mine if column.name in theirs_by_name]
    common_theirs = [column.name for column in expected if column.name in mine_by_name]
    if common_mine != common_theirs:
        problems.append(f"columns of {table} are in the order {common_mine}, expected {common_theirs}")
    return problems


def read_catalog(connection: psycopg.Connection, schema: str = SCHEMA) -> Catalog:
    catalog = Catalog()
    params = {"schema": schema, "skip": BOOKKEEPING}
    with connection.cursor() as cursor:
        for name, kind in cursor.execute(_RELATIONS, params):
            catalog.relations[name] = _KINDS[kind]
        columns: dict[str, list[Column]] = {}
        for table, name, type_, not_null, default, identity, generated in cursor.execute(_COLUMNS, params):
            columns.setdefault(table, []).append(Column(name, type_, not_null, default, identity, generated))
        catalog.columns = {table: tuple(found) for table, found in columns.items()}
        for table, name, kind, definition, validated in cursor.execute(_CONSTRAINTS, params):
            catalog.constraints[(table, name)] = f"{kind}: {definition}"
            if not validated:
                catalog.unvalidated.add((table, name))
        catalog.indexes = dict(cursor.execute(_INDEXES, params).fetchall())
        catalog.views = dict(cursor.execute(_VIEWS, params).fetchall())
    catalog.relations.pop(BOOKKEEPING, None)
    catalog.columns.pop(BOOKKEEPING, None)
    catalog.constraints = {key: value for key, value in catalog.constraints.items() if key[0] != BOOKKEEPING}
    return catalog
