"""Data the drills can prove was kept: realistic legacy rows (the schema before the migration,
revision 0001) written fast with COPY, and per-column checksums that show which column of which
table changed, if any did."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from golive.drills.catalog import Catalog, read_catalog
from golive.drills.sizes import Sizes

# One argon2id hash (of LEGACY_PASSWORD) for every seeded user: hashing thousands would take
# minutes, and the drills only ever log in as one of them.
LEGACY_PASSWORD = "golive-legacy-password"  # noqa: S105 - the seeded users' known password
LEGACY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$fT7/3JrbBwAS4nZQmnF2Vg$5Gl0AWYyCgZ3I+tT0RnZUdRxf1e+fcA/79u4AjPQDjY"
)
LEGACY_TABLES = ("users", "content", "agent_metrics")
AGENTS = ("content-generator", "quiz-builder", "lesson-planner", "summarizer", "translator")
# Text as users type it: accents, CJK, emoji, quotes, backslashes, tabs and newlines, and empty.
SAMPLES = (
    "Explain photosynthesis to a 10-year-old",
    "Résumé d'un cours sur la Révolution française",
    "光合作用是什么？",  # noqa: RUF001 - a Chinese question ends so
    "Quiz: 5 questions on fractions 🍕",
    'He said "use \\n for newlines"\tand left',
    "Line one\nLine two\n\nLine four",
    "",
    "O'Brien's lesson; DROP TABLE users; --",
)


def seed_legacy(connection: psycopg.Connection, sizes: Sizes, seed: int = 20261128) -> None:
    """Fills the legacy tables (empty, at revision 0001) with reproducible, varied rows."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
    start = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY users (id, username, email, hashed_password, role, is_active, created_at) FROM STDIN"
        ) as copy:
            for user_id in range(1, sizes.users + 1):
                email = None if user_id % 7 == 0 else f"user{user_id}@school{user_id % 40}.example"
                role = "admin" if user_id % 250 == 1 else "user"
                created = start + timedelta(minutes=user_id * 3)
                copy.write_row(
                    (user_id, f"legacy-user-{user_id}", email, LEGACY_HASH, role, user_id % 50 != 0, created)
                )
        with cursor.copy(
            "COPY content (id, user_id, prompt, content_type, status, result, model, error, created_at,"
            " completed_at) FROM STDIN"
        ) as copy:
            for number in range(sizes.content):
                status = rng.choices(("completed", "failed", "processing"), weights=(85, 10, 5))[0]
                created = start + timedelta(seconds=number * 97 + rng.randrange(60))
                prompt = f"{rng.choice(SAMPLES)} #{number}"
                result = (
                    f"{rng.choice(SAMPLES)}\n{'lorem ipsum ' * rng.randrange(1, 40)}"
                    if status == "completed"
                    else None
                )
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        rng.randrange(1, sizes.users + 1),
                        prompt,
                        rng.choice(("text", "lesson", "quiz", "summary")),
                        status,
                        result,
                        rng.choice(("gpt-4o", "claude-3", "legacy-model")) if status == "completed" else None,
                        "upstream timed out" if status == "failed" else None,
                        created,
                        created + timedelta(seconds=rng.randrange(1, 90)) if status != "processing" else None,
                    )
                )
        with cursor.copy(
            "COPY agent_metrics (id, agent_name, requests_total, errors_total, last_seen_at) FROM STDIN"
        ) as copy:
            for metric_id in range(1, sizes.agent_metrics + 1):
                name = f"{AGENTS[metric_id % len(AGENTS)]}-{metric_id}"
                requests = rng.randrange(0, 100_000)
                seen = start + timedelta(hours=metric_id) if requests else None
                copy.write_row((metric_id, name, requests, rng.randrange(0, requests + 1), seen))
        # Ids were given explicitly: the sequences must continue after them, as the app expects.
        for table in ("users", "agent_metrics"):
            cursor.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))").format(
                    t=sql.Literal(table), i=sql.Identifier(table)
                )
            )
    connection.commit()


@dataclass
class TableChecksum:
    rows: int
    columns: dict[str, str] = field(default_factory=dict)  # column -> md5 of its values in key order


Snapshot = dict[str, TableChecksum]


def primary_key(connection: psycopg.Connection, table: str) -> list[str]:
    rows = connection.execute(
        """SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
        (f'public."{table}"',),
    ).fetchall()
    return [row[0] for row in rows]


def checksum(connection: psycopg.Connection, table: str, columns: list[str]) -> TableChecksum:
    """Row count and one md5 per column, over the values in primary-key order (all columns when
    there is no primary key): one scan of the table."""
    order = primary_key(connection, table) or columns
    aggregates = [sql.SQL("count(*)")] + [
        sql.SQL("md5(string_agg(coalesce({c}::text, '<NULL>'), E'\\x1f' ORDER BY {o}))").format(
            c=sql.Identifier(column), o=sql.SQL(", ").join(map(sql.Identifier, order))
        )
        for column in columns
    ]
    query = sql.SQL("SELECT {a} FROM {t}").format(a=sql.SQL(", ").join(aggregates), t=sql.Identifier(table))
    row = connection.execute(query).fetchone()
    assert row is not None
    return TableChecksum(
        rows=row[0], columns=dict(zip(columns, (value or "" for value in row[1:]), strict=True))
    )


def snapshot(connection: psycopg.Connection, tables: dict[str, list[str]]) -> Snapshot:
    """Checksums of the given tables (name -> columns)."""
    return {table: checksum(connection, table, columns) for table, columns in tables.items()}


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Every table and column of `before` that `after` holds differently. Tables or columns
    missing from `after` are not this function's concern (the schema check's)."""
    problems = []
    for table, was in before.items():
        now = after.get(table)
        if now is None:
            continue
        if now.rows != was.rows:
            problems.append(f"{table}: {was.rows} rows before, {now.rows} after")
        for column, digest in was.columns.items():
            if column in now.columns and now.columns[column] != digest:
                problems.append(f"{table}.{column}: values changed ({now.rows} rows)")
    return problems


@dataclass
class DatabaseState:
    """Everything a restore must bring back: the schema, every table's checksums (the revision
    in alembic_version included) and where each sequence is."""

    catalog: Catalog
    tables: Snapshot
    sequences: dict[str, tuple[int, bool]]

    def schema_differences(self, now: DatabaseState) -> list[str]:
        return now.catalog.diff(self.catalog)

    def data_differences(self, now: DatabaseState) -> list[str]:
        extra = sorted(set(now.tables) - set(self.tables))
        return changes(self.tables, now.tables) + [f"{table}: a table that was not there" for table in extra]

    def sequence_differences(self, now: DatabaseState) -> list[str]:
        return [
            f"{name} at {now.sequences.get(name)}, was {position}"
            for name, position in self.sequences.items()
            if now.sequences.get(name) != position
        ]

    def differences(self, now: DatabaseState) -> list[str]:
        return self.schema_differences(now) + self.data_differences(now) + self.sequence_differences(now)


def database_state(dsn: str) -> DatabaseState:
    with psycopg.connect(dsn, autocommit=True) as connection:
        catalog = read_catalog(connection)
        tables = {table: catalog.column_names(table) for table in catalog.tables}
        if connection.execute("SELECT to_regclass('public.alembic_version')").fetchone() != (None,):
            tables["alembic_version"] = ["version_num"]
        sequences = {}
        for name, kind in catalog.relations.items():
            if kind == "sequence":
                query = sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(name))
                row = connection.execute(query).fetchone()
                assert row is not None
                sequences[name] = (int(row[0]), bool(row[1]))
        return DatabaseState(catalog, snapshot(connection, tables), sequences)
