"""What a migration step may cost the tables it touches, in one place: beyond these budgets the
migration drill fails the step. A run may set its own (`golive drill --max-lock-ms
--max-rewrite-rows --max-index-build-rows`); `golive validate` holds every backend to the defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budgets:
    # An ACCESS EXCLUSIVE lock on a table holding data stops its readers and writers that long.
    max_lock_ms: float = 1000.0
    # A rewrite's time grows with its table: by default no table holding data may be rewritten.
    max_rewrite_rows: int = 0
    # CREATE INDEX without CONCURRENTLY holds a SHARE lock (every write waits) for the whole build,
    # which grows with the table: by default no table holding data may be indexed so.
    max_index_build_rows: int = 0
