"""What a migration step does to a live database besides changing it: the locks its session
takes on tables (sampled from pg_locks from another connection) and the tables it rewrites
(their storage, pg_class.relfilenode, changes). An ACCESS EXCLUSIVE lock blocks every reader of
the table for as long as it is held: on a large table, that is downtime."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg

SAMPLE_SECONDS = 0.01
# Weakest to strongest, as Postgres documents the table-level lock modes.
MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)

LOCKS = """
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = %(pid)s AND l.granted AND n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""


@dataclass
class HeldLock:
    table: str
    mode: str  # the strongest mode seen
    first_seen: float
    last_seen: float

    @property
    def held_ms(self) -> float:
        # Seen in one sample only: held for less than a sampling interval.
        return round(max(self.last_seen - self.first_seen, SAMPLE_SECONDS) * 1000, 1)


class LockWatcher:
    """Samples the locks one backend (by pid) holds on tables, in a thread, until stopped."""

    def __init__(self, dsn: str, pid: int) -> None:
        self.dsn = dsn
        self.pid = pid
        self.held: dict[str, HeldLock] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"locks-{pid}", daemon=True)
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> LockWatcher:
        self._connection = psycopg.connect(self.dsn, autocommit=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._connection.close()
        if self._error is not None:
            raise self._error

    def record(self, locks: list[tuple[str, str]]) -> None:
        """One sample. The migration's own session gives the last one, just before its commit:
        a lock is held until the transaction ends, so that sample misses none, however short."""
        with self._lock:
            now = time.monotonic()
            for table, mode in locks:
                held = self.held.get(table)
                if held is None:
                    self.held[table] = HeldLock(table, mode, now, now)
                    continue
                held.last_seen = now
                if MODES.index(mode) > MODES.index(held.mode):
                    held.mode = mode

    def _watch(self) -> None:
        try:
            while not self._stop.is_set():
                rows = self._connection.execute(LOCKS, {"pid": self.pid}).fetchall()
                self.record([(table, mode) for table, mode in rows])
                self._stop.wait(SAMPLE_SECONDS)
        except BaseException as error:  # reported by __exit__, in the drill's thread
            self._error = error


def storage_of(connection: psycopg.Connection) -> dict[str, int]:
    """Each table's storage file: a step that changes it rewrote the table."""
    rows = connection.execute(
        """SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r'"""
    ).fetchall()
    return dict(rows)
