"""A drill's result as it runs: its evidence (golive.core.drill_evidence, the type the report reads
back) timed from when the drill began, and shown as a table on the terminal."""

from __future__ import annotations

import time

from pydantic import PrivateAttr
from rich.table import Table

from golive.core.drill_evidence import DrillRecord


class DrillResult(DrillRecord):
    _started: float = PrivateAttr(default_factory=time.perf_counter)

    def finish(self) -> DrillResult:
        self.seconds = round(time.perf_counter() - self._started, 3)
        return self

    def table(self) -> Table:
        table = Table(title=f"drill {self.drill}", title_justify="left")
        for heading in ("step", "seconds", "revision", "checks", "locks held longest"):
            table.add_column(heading, overflow="fold")
        for step in self.steps:
            passed = sum(check.ok for check in step.checks)
            marks = ("" if step.ok else " FAIL") + (" !" if step.warnings else "")
            verdict = "n/a" if step.not_applicable else f"{passed}/{len(step.checks)}{marks}"
            longest = max(step.locks, key=lambda lock: lock.held_ms, default=None)
            held = f"{longest.table} {longest.mode} {longest.held_ms} ms" if longest else ""
            table.add_row(step.name, f"{step.seconds:.2f}", step.revision or "-", verdict, held)
        return table
