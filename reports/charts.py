"""Inline SVG charts for the report (no script, no network): the load run's latency and
throughput over time with fault windows shaded and each breaker's state drawn on the same time
axis, and the migration's step durations.

Every drawn series carries its numbers (`data-values`), so what a chart claims can be checked
against the run's data without reading pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from golive.core.drill_evidence import DrillRecord
from golive.core.load_evidence import TimelineEvent, TimelineRecord, TimelineSecond

WIDTH = 880
LEFT = 64  # room for the axis labels
PLOT = WIDTH - LEFT - 16
STATE_COLOURS = {"CLOSED": "#2e7d32", "HALF_OPEN": "#f9a825", "OPEN": "#c62828"}
SERIES = (("p50_ms", "#90caf9", "p50"), ("p95_ms", "#1e88e5", "p95"), ("p99_ms", "#0d47a1", "p99"))


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def fault_windows(events: Sequence[TimelineEvent], end: float) -> list[tuple[float, float]]:
    """(start, end) of every span with a fault in place: a fault added, until faults removed."""
    windows: list[tuple[float, float]] = []
    opened: float | None = None
    for event in sorted(events, key=lambda event: event.t):
        if event.kind == "fault-added" and opened is None:
            opened = event.t
        elif event.kind == "faults-removed" and opened is not None:
            windows.append((opened, event.t))
            opened = None
    if opened is not None:
        windows.append((opened, end))
    return windows


def breaker_spans(rows: Sequence[TimelineSecond]) -> dict[str, list[tuple[float, float, str]]]:
    """Per breaker: (from, to, state) over the run, from the state recorded each second."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for index, row in enumerate(rows):
        start = float(row.t)
        end = float(rows[index + 1].t) if index + 1 < len(rows) else start + 1
        for breaker, state in sorted(row.breakers.items()):
            runs = spans.setdefault(breaker, [])
            if runs and runs[-1][2] == state and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end, state)
            else:
                runs.append((start, end, state))
    return spans


def _latencies(row: TimelineSecond) -> dict[str, float | None]:
    return {"p50_ms": row.p50_ms, "p95_ms": row.p95_ms, "p99_ms": row.p99_ms}


def timeline_svg(timeline: TimelineRecord) -> str:
    rows = timeline.seconds
    if not rows:
        return '<p class="none">The load run recorded no second.</p>'
    t_end = float(rows[-1].t) + 1
    x = _scale(0.0, t_end, LEFT, LEFT + PLOT)
    latency_top, latency_height = 24, 170
    rate_top, rate_height = latency_top + latency_height + 36, 90
    spans = breaker_spans(rows)
    band_top = rate_top + rate_height + 36
    height = band_top + 22 * len(spans) + 30
    latencies = [value for row in rows for value in _latencies(row).values() if value is not None]
    y_latency = _scale(
        0.0, max(latencies, default=1.0) * 1.1 or 1.0, latency_top + latency_height, latency_top
    )
    peak_rate = max((row.requests_per_second for row in rows), default=1.0)
    y_rate = _scale(0.0, peak_rate * 1.1 or 1.0, rate_top + rate_height, rate_top)
    parts = [
        f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="latency, throughput and breakers over time">'
    ]
    for start, end in fault_windows(timeline.events, t_end):
        parts.append(
            f'<rect class="fault" data-from="{_number(start)}" data-to="{_number(end)}" '
            f'x="{x(start):.1f}" y="{latency_top}" width="{max(x(end) - x(start), 1):.1f}" '
            f'height="{band_top - latency_top - 8}" fill="#ffcdd2" opacity="0.6">'
            "<title>fault in place</title></rect>"
        )
    parts.append(_axes("latency (ms)", latency_top, latency_height, y_latency.domain_top))
    for key, colour, label in SERIES:
        points = [(float(row.t), value) for row in rows if (value := _latencies(row)[key]) is not None]
        parts.append(_polyline(key, label, points, x, y_latency, colour))
    parts.append(_axes("requests/s", rate_top, rate_height, y_rate.domain_top))
    rate = [(float(row.t), row.requests_per_second) for row in rows]
    parts.append(_polyline("requests_per_second", "req/s", rate, x, y_rate, "#6a1b9a"))
    failures = [(float(row.t), row.failures_per_second) for row in rows]
    parts.append(_polyline("failures_per_second", "failures/s", failures, x, y_rate, "#c62828"))
    for index, (breaker, runs) in enumerate(sorted(spans.items())):
        top = band_top + 22 * index
        parts.append(
            f'<text x="{LEFT - 6}" y="{top + 13}" text-anchor="end" class="label">{escape(breaker)}</text>'
        )
        for start, end, state in runs:
            parts.append(
                f'<rect class="breaker" data-breaker="{escape(breaker)}" data-state="{escape(state)}" '
                f'data-from="{_number(start)}" data-to="{_number(end)}" x="{x(start):.1f}" y="{top}" '
                f'width="{max(x(end) - x(start), 1):.1f}" height="16" '
                f'fill="{STATE_COLOURS.get(state, "#757575")}"><title>{escape(breaker)} {escape(state)} '
                f"{_number(start)}-{_number(end)} s</title></rect>"
            )
    axis_y = height - 12
    for tick in _ticks(t_end):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y}" text-anchor="middle" class="label">{tick:g} s</text>'
        )
    parts.append(_legend(latency_top - 8))
    parts.append("</svg>")
    return "".join(parts)


def steps_svg(drill: DrillRecord) -> str:
    steps = [(step.name, step.seconds) for step in drill.steps]
    if not steps:
        return '<p class="none">The drill recorded no step.</p>'
    longest = max(seconds for _, seconds in steps) or 1.0
    label_width, bar_space, row = 300, WIDTH - 300 - 80, 22
    height = row * len(steps) + 10
    parts = [
        f'<svg class="chart steps" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="migration step durations">'
    ]
    for index, (name, seconds) in enumerate(steps):
        top = 4 + row * index
        width = max(bar_space * seconds / longest, 1)
        parts.append(
            f'<text x="{label_width - 8}" y="{top + 13}" text-anchor="end" class="label">'
            f"{escape(name[:48])}</text>"
            f'<rect class="step" data-step="{escape(name)}" data-seconds="{_number(seconds)}" '
            f'x="{label_width}" y="{top}" width="{width:.1f}" height="16" fill="#1e88e5">'
            f"<title>{escape(name)}: "
            f"{_number(seconds)} s</title></rect>"
            f'<text x="{label_width + width + 6:.1f}" y="{top + 13}" class="label">{seconds:.3f} s</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


class _scale:
    """A linear map from [domain_bottom, domain_top] to [range_from, range_to]."""

    def __init__(self, domain_bottom: float, domain_top: float, range_from: float, range_to: float) -> None:
        self.domain_bottom, self.domain_top = domain_bottom, domain_top
        self.range_from, self.range_to = range_from, range_to

    def __call__(self, value: float) -> float:
        share = (value - self.domain_bottom) / ((self.domain_top - self.domain_bottom) or 1.0)
        return self.range_from + share * (self.range_to - self.range_from)


def _polyline(
    key: str, label: str, points: list[tuple[float, float]], x: _scale, y: _scale, colour: str
) -> str:
    drawn = " ".join(f"{x(t):.1f},{y(value):.1f}" for t, value in points)
    values = " ".join(f"{_number(t)}:{_number(value)}" for t, value in points)
    return (
        f'<polyline class="series" data-series="{key}" data-values="{values}" points="{drawn}" '
        f'fill="none" stroke="{colour}" stroke-width="1.6"><title>{escape(label)}</title></polyline>'
    )


def _axes(label: str, top: int, height: int, domain_top: float) -> str:
    bottom = top + height
    return (
        f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + PLOT}" y2="{bottom}" stroke="#9e9e9e"/>'
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#9e9e9e"/>'
        f'<text x="{LEFT - 6}" y="{top + 4}" text-anchor="end" class="label">{domain_top:.0f}</text>'
        f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end" class="label">0</text>'
        f'<text x="{LEFT + 4}" y="{top - 4 + 14}" class="label axis">{escape(label)}</text>'
    )


def _ticks(end: float, count: int = 6) -> list[float]:
    step = max(1.0, round(end / count))
    return [step * index for index in range(int(end // step) + 1)]


def _legend(y: int) -> str:
    entries = [(label, colour) for _, colour, label in SERIES] + [
        ("req/s", "#6a1b9a"),
        ("failures/s", "#c62828"),
    ]
    entries += [(f"breaker {state}", colour) for state, colour in STATE_COLOURS.items()] + [
        ("fault", "#ffcdd2")
    ]
    parts, left = [], LEFT
    for label, colour in entries:
        parts.append(
            f'<rect x="{left}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 13}" y="{y + 1}" class="label">{escape(label)}</text>'
        )
        left += 16 + 7 * len(label)
    return "".join(parts)
