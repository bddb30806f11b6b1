"""What every bench reports, in one shape: a figure, its baseline measured in the same run, golive's
own, and their ratio (golive / baseline); or n/a and why (what the bench needs and did not find).
bench/run.py prints the figures of every bench as one table; each bench prints its own the same
way after its detailed lines.

A bench module (run as a script, so imported by file name) has a `figures(quick)` function; with
`quick` it measures briefly (fewer runs, smaller loads), for a look rather than a figure to quote.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """`name` says what is measured, in which unit, and what the baseline is."""

    name: str
    baseline: float | None
    golive: float | None
    na: str | None = None  # why there is no figure

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.golive is None or self.baseline == 0:
            return None
        return self.golive / self.baseline

    @classmethod
    def unavailable(cls, name: str, reason: str) -> Figure:
        return cls(name, None, None, na=reason)


def missing_tool(tool: str, package: str) -> str | None:
    """Why a bench cannot run without `tool` (None when it is on PATH)."""
    if shutil.which(tool) is None:
        return f"needs {tool}: apt-get install {package}"
    return None


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def table(rows: Sequence[tuple[str, Figure]]) -> str:
    """(bench, figure) rows as a plain-text table; an n/a row gives its reason in place of numbers."""
    header = ("bench", "figure", "baseline", "golive", "ratio")
    cells: list[tuple[str, ...]] = []
    for bench, figure in rows:
        if figure.na is not None:
            reason = figure.na if len(figure.na) <= 240 else f"{figure.na[:239]}…"
            cells.append((bench, figure.name, "n/a", "n/a", f"n/a: {reason}"))
            continue
        ratio = figure.ratio
        cells.append(
            (
                bench,
                figure.name,
                number(figure.baseline),
                number(figure.golive),
                "-" if ratio is None else f"{ratio:.2f}x",
            )
        )
    widths = [max(len(row[index]) for row in (header, *cells)) for index in range(4)]
    lines = []
    for row in (header, *cells):
        left = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        right = [row[2].rjust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join([*left, *right, row[4]]).rstrip())
        if row is header:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)
