"""One way to run the drills, for `golive drill` and the pytest suites alike: each drill gets an
empty database of its own (a new one on the local stack's Postgres, or the operator's, wiped
between drills once it has been accepted as the drill's), and, when it runs the backend, the
local stack's services."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from golive.drills.budgets import Budgets
from golive.drills.sizes import Sizes

if TYPE_CHECKING:  # a command that only names or selects drills needs none of them
    from golive.drills.database import DrillDatabase
    from golive.drills.result import DrillResult
    from golive.fixtures.stack import Stack

Progress = Callable[[str], None]


@dataclass
class DrillRun:
    """What a drill is given."""

    database: DrillDatabase
    stack: Stack | None
    work_dir: Path  # backups and other files the drill writes
    sizes: Sizes = field(default_factory=Sizes)
    budgets: Budgets = field(default_factory=Budgets)
    extra_versions: Path | None = None  # more migration scripts (the tests' broken ones)
    progress: Progress = lambda message: None

    @property
    def running_stack(self) -> Stack:
        if self.stack is None:
            raise RuntimeError("this drill runs the backend: it needs the local stack")
        return self.stack


# Each drill's module is imported when it runs: they bring Alembic and SQLAlchemy (0.4 s of
# imports), which a command that only names or selects drills (validate before its drills stage,
# or stopped by a bad argument) does not need.


def _migration(run: DrillRun) -> DrillResult:
    from golive.drills.migration import MigrationDrill

    return MigrationDrill(
        run.database.dsn,
        run.sizes,
        extra_versions=run.extra_versions,
        budgets=run.budgets,
        progress=run.progress,
    ).run()


def _rollback(run: DrillRun) -> DrillResult:
    from golive.drills.rollback import RollbackDrill

    return RollbackDrill(
        run.database, run.running_stack, run.work_dir, run.sizes, progress=run.progress
    ).run()


def _flags(run: DrillRun) -> DrillResult:
    from golive.drills.flags import FlagsDrill

    return FlagsDrill(run.database, run.running_stack, progress=run.progress).run()


def _backup(run: DrillRun) -> DrillResult:
    from golive.drills.backup import BackupDrill

    return BackupDrill(run.database, run.work_dir, run.sizes, progress=run.progress).run()


@dataclass(frozen=True)
class Drill:
    name: str
    summary: str
    runs_backend: bool
    run: Callable[[DrillRun], DrillResult]
    creates_databases: bool = True  # restore targets and scratch copies next to its own


DRILLS = {
    drill.name: drill
    for drill in (
        Drill(
            "migration",
            "upgrade/downgrade round trips on legacy data: schema, data, locks",
            False,
            _migration,
            creates_databases=False,
        ),
        Drill(
            "rollback",
            "backup, migrate, write, restore: the old version serves the old data",
            True,
            _rollback,
        ),
        Drill(
            "flags",
            "CIRCUIT_BREAKER/RATE_LIMIT/PUSHER_ENABLED=false, each by behaviour",
            True,
            _flags,
            creates_databases=False,
        ),
        Drill("backup", "corrupt, truncated and other-schema backups refused untouched", False, _backup),
    )
}


class UnknownDrill(ValueError):
    pass


def select(names: list[str]) -> list[Drill]:
    """The drills named ('all' for every one), in the order given, each once."""
    chosen: list[Drill] = []
    for name in names:
        if name == "all":
            chosen += [drill for drill in DRILLS.values() if drill not in chosen]
        elif name in DRILLS:
            chosen += [] if DRILLS[name] in chosen else [DRILLS[name]]
        else:
            raise UnknownDrill(f"no drill named {name!r}: choose from {', '.join(DRILLS)}, or all")
    return chosen


_counter = itertools.count(1)


@contextmanager
def stack_database(stack: Stack, drill: str) -> Iterator[DrillDatabase]:
    """A new database on the stack's Postgres for one drill, dropped afterwards."""
    from golive.drills.database import DrillDatabase

    assert stack.postgres is not None
    name = f"golive_drill_{drill}_{next(_counter)}"
    stack.admin.create_database(name)
    try:
        yield DrillDatabase(stack.postgres.admin.dsn(name))
    finally:
        stack.admin.drop_database(name)
