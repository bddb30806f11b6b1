"""The charts draw what the run recorded: every series' numbers, the fault windows and each
breaker's states at the seconds they held."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from golive.core.drill_evidence import DrillRecord, Step
from golive.core.load_evidence import TimelineEvent, TimelineRecord
from golive.reports.charts import breaker_spans, fault_windows, steps_svg, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def second(t: int, p95: float | None, rate: float, breakers: dict[str, str]) -> dict[str, Any]:
    return {
        "t": t, "at": 1_000 + t, "users": 5, "requests_per_second": rate, "failures_per_second": 0.0,
        "p50_ms": None if p95 is None else p95 / 2, "p95_ms": p95, "p99_ms": None if p95 is None else p95 * 2,
        "requests": int(rate), "failures": 0, "breakers": breakers,
    }  # fmt: skip


TIMELINE = TimelineRecord.model_validate(
    {
        "started_at": 1_000,
        "seconds": [
            second(0, 10.0, 20.0, {"ai-service": "CLOSED"}),
            second(1, 12.5, 22.0, {"ai-service": "CLOSED"}),
            second(2, 300.0, 5.0, {"ai-service": "OPEN"}),
            second(3, None, 0.0, {"ai-service": "OPEN"}),
            second(4, 11.0, 21.0, {"ai-service": "HALF_OPEN"}),
            second(5, 10.5, 20.5, {"ai-service": "CLOSED"}),
        ],
        "events": [
            {"t": 1.5, "kind": "fault-added"},
            {"t": 2.2, "kind": "breaker", "breaker": "ai-service", "state": "OPEN"},
            {"t": 3.75, "kind": "faults-removed"},
        ],
    }
)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - markup this test's own call produced


def test_every_series_carries_exactly_the_recorded_values() -> None:
    root = parse(timeline_svg(TIMELINE))
    series = {line.get("data-series"): line.get("data-values") for line in root.iter(f"{SVG}polyline")}
    assert series["p95_ms"] == "0:10 1:12.5 2:300 4:11 5:10.5"  # second 3 had no latency: no point
    assert series["requests_per_second"] == "0:20 1:22 2:5 3:0 4:21 5:20.5"
    assert set(series) == {"p50_ms", "p95_ms", "p99_ms", "requests_per_second", "failures_per_second"}
    for line in root.iter(f"{SVG}polyline"):
        assert len((line.get("points") or "").split()) == len((line.get("data-values") or "").split())


def test_fault_windows_are_shaded_from_fault_to_removal() -> None:
    root = parse(timeline_svg(TIMELINE))
    windows = [
        (r.get("data-from"), r.get("data-to")) for r in root.iter(f"{SVG}rect") if r.get("class") == "fault"
    ]
    assert windows == [("1.5", "3.75")]
    never_removed = [TimelineEvent(t=4, kind="fault-added")]
    assert fault_windows(never_removed, end=9.0) == [(4.0, 9.0)]


def test_breaker_states_are_drawn_on_the_same_time_axis() -> None:
    root = parse(timeline_svg(TIMELINE))
    bands = [
        (r.get("data-state"), r.get("data-from"), r.get("data-to"))
        for r in root.iter(f"{SVG}rect")
        if r.get("class") == "breaker"
    ]
    assert bands == [("CLOSED", "0", "2"), ("OPEN", "2", "4"), ("HALF_OPEN", "4", "5"), ("CLOSED", "5", "6")]
    assert breaker_spans(TIMELINE.seconds)["ai-service"][1] == (2.0, 4.0, "OPEN")


def test_step_durations_are_bars_of_the_recorded_seconds() -> None:
    steps = [Step(name="upgrade head", seconds=0.029), Step(name="downgrade -1 <&>", seconds=0.5)]
    root = parse(steps_svg(DrillRecord(drill="migration", steps=steps)))
    bars = {r.get("data-step"): float(r.get("data-seconds") or 0) for r in root.iter(f"{SVG}rect")}
    assert bars == {"upgrade head": 0.029, "downgrade -1 <&>": 0.5}
    widths = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")]
    assert widths[1] > widths[0] * 10


def test_an_empty_run_says_so_instead_of_drawing_nothing() -> None:
    assert "no second" in timeline_svg(TimelineRecord(started_at=1_000, seconds=[], events=[]))
    assert "no step" in steps_svg(DrillRecord(drill="migration"))
