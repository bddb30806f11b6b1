"""Each drill passes on the reference backend: the guide's migration,
emergency rollback, partial rollback and backup procedures work as written (or, where the guide
is wrong, as the drill says)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from golive.drills.result import DrillResult
from golive.drills.runner import DRILLS, DrillRun, stack_database
from golive.drills.sizes import Sizes
from golive.fixtures.clients import owned
from golive.fixtures.stack import Stack, StackHandle

# A third of the command's default: the same checks, in the default suite's time.
SIZES = Sizes(users=700, content=10_000, agent_metrics=50)


def run_drill(name: str, stack: Stack, work_dir: Path) -> DrillResult:
    with stack_database(stack, name) as database:
        result = DRILLS[name].run(DrillRun(database, stack, work_dir, SIZES))
    assert result.ok, "\n".join(result.failures)
    written = json.loads(result.write_into(work_dir).read_text())
    assert written["ok"] is True
    return result


def test_migration(golive_stack: StackHandle, tmp_path: Path) -> None:
    result = run_drill("migration", owned(golive_stack), tmp_path)
    steps = {step.name: step for step in result.steps}
    # The ladder: every revision's downgrade, with data on both sides of it.
    ladder = [
        name
        for previous, revision in pairwise(["0001", "0002", "0003", "0004"])
        for name in (
            f"upgrade {revision}",
            f"data written into what {revision} added",
            f"downgrade {revision} -> {previous}",
            f"upgrade {revision} again",
            f"data written into what {revision} added, again",
        )
    ]
    assert list(steps)[2:] == [*ladder, "downgrade base", "upgrade head from base"]
    assert result.steps[1].figures == SIZES.rows()
    # Each downgrade drops what its revision added, with the rows written there, and says so.
    assert steps["downgrade 0002 -> 0001"].figures["dropped"] == {
        "agent_metrics.avg_response_time": 50,
        "agent_metrics.circuit_breaker_trips": 50,
        "agent_metrics.rate_limit_hits": 50,
        "circuit_breaker_state": 3,
        "rate_limit_state": 500,
    }
    assert steps["downgrade 0003 -> 0002"].figures["dropped"] == {"idempotency_keys": 500}
    assert steps["downgrade 0004 -> 0003"].figures["dropped"] == {"circuit_breaker_state.trips": 3}
    assert all(step.locks for step in steps.values() if step.name.startswith(("upgrade", "downgrade")))


def test_rollback(golive_stack: StackHandle, tmp_path: Path) -> None:
    result = run_drill("rollback", owned(golive_stack), tmp_path)
    assert [step.name for step in result.steps][-3:] == [
        "restore the backup into a fresh database",
        "the previous version serves from it",
        "Redis restored from the RDB snapshot",
    ]
    assert any("redis-cli --rdb FILE" in warning for warning in result.warnings)
    assert sorted(path.suffix for path in tmp_path.glob("backup_*")) == [".json", ".rdb", ".sql"]


def test_flags(golive_stack: StackHandle, tmp_path: Path) -> None:
    result = run_drill("flags", owned(golive_stack), tmp_path)
    assert [step.name for step in result.steps] == [
        "CIRCUIT_BREAKER_ENABLED=false",
        "RATE_LIMIT_ENABLED=false",
        "PUSHER_ENABLED=false",
    ]
    pusher = result.steps[2].figures
    assert pusher["off"] == "/pusher/auth 503; /ws/content delivered content_completed"


def test_backup(golive_stack: StackHandle, tmp_path: Path) -> None:
    result = run_drill("backup", owned(golive_stack), tmp_path)
    refusals = [step.figures["refusal"] for step in result.steps[1:-1]]
    assert len(refusals) == 8
    assert all(refusals)
    # Only the good backup is kept.
    assert sorted(path.name for path in tmp_path.glob("*.sql*")) == ["good.sql", "good.sql.manifest.json"]
