"""k6-style thresholds for Locust runs: declared next to the load profile, evaluated on what the
run measured, each passing or failing by name.

    http_req_duration: ["p(95) < 500", "avg < 200"]        # milliseconds ("1s" and "250ms" work too)
    http_req_duration{group:content}: ["p(99) < 1500"]      # one group of requests ([group] in the name)
    http_req_duration{name:[health] GET /health}: ["max < 100"]
    http_req_failed: ["rate < 0.01"]                         # failed / all
    http_reqs: ["rate > 20", "count >= 100"]                 # requests per second over the run / in all

Metrics and their aggregations, as k6 names them: http_req_duration (avg, min, max, med, p(N)),
http_req_failed (rate, count), http_reqs (rate, count). Operators: < <= > >= == !=. A threshold
whose selector matched no request fails: a gate that saw nothing has not been passed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from golive.loadtests.results import RunStats, Sample

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
AGGREGATIONS = {
    "http_req_duration": ("avg", "min", "max", "med", "p(N)"),
    "http_req_failed": ("rate", "count"),
    "http_reqs": ("rate", "count"),
}
_KEY = re.compile(r"^(?P<metric>[a-z_]+)(\{(?P<tag>group|name):(?P<value>[^}]+)\})?$")
_EXPRESSION = re.compile(
    r"^(?P<aggregation>avg|min|max|med|rate|count|p\((?P<percent>\d+(\.\d+)?)\))\s*"
    r"(?P<operator><=|>=|==|!=|<|>)\s*(?P<value>-?\d+(\.\d+)?)\s*(?P<unit>ms|s)?$"
)


class ThresholdError(ValueError):
    """A threshold that cannot be read: says which and why."""


@dataclass(frozen=True)
class Threshold:
    source: str  # as written: `http_req_duration{group:content}: p(95) < 500`
    metric: str
    tag: str | None
    tag_value: str | None
    aggregation: str
    percent: float | None
    operator: str
    limit: float

    def sample(self, stats: RunStats) -> Sample:
        if self.tag == "group":
            return stats.select(group=self.tag_value)
        if self.tag == "name":
            return stats.select(name=self.tag_value)
        return stats.select()

    def observe(self, sample: Sample) -> float | None:
        if self.metric == "http_req_duration":
            if self.percent is not None:
                return sample.percentile_ms(self.percent)
            return {
                "avg": sample.average_ms,
                "min": sample.min_ms,
                "max": sample.max_ms,
                "med": sample.percentile_ms(50),
            }[self.aggregation]
        if self.metric == "http_req_failed":
            return sample.failure_rate if self.aggregation == "rate" else float(sample.failures)
        return sample.throughput if self.aggregation == "rate" else float(sample.requests)


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    observed: float | None
    ok: bool
    detail: str


def parse(key: str, expression: str) -> Threshold:
    source = f"{key}: {expression}"
    matched_key = _KEY.match(key.strip())
    if matched_key is None:
        raise ThresholdError(f"{source}: expected METRIC or METRIC{{group:NAME}} or METRIC{{name:REQUEST}}")
    metric = matched_key["metric"]
    if metric not in AGGREGATIONS:
        raise ThresholdError(f"{source}: unknown metric {metric!r} (known: {', '.join(AGGREGATIONS)})")
    matched = _EXPRESSION.match(expression.strip())
    if matched is None:
        raise ThresholdError(f"{source}: expected AGGREGATION OPERATOR NUMBER, e.g. 'p(95) < 500'")
    aggregation = "p(N)" if matched["percent"] else matched["aggregation"]
    if aggregation not in AGGREGATIONS[metric]:
        raise ThresholdError(
            f"{source}: {metric} has no {matched['aggregation']} (it has {', '.join(AGGREGATIONS[metric])})"
        )
    percent = float(matched["percent"]) if matched["percent"] else None
    if percent is not None and not 0 < percent <= 100:
        raise ThresholdError(f"{source}: a percentile is between 0 and 100")
    limit = float(matched["value"])
    if matched["unit"]:
        if metric != "http_req_duration":
            raise ThresholdError(f"{source}: only durations take a unit")
        limit *= 1000 if matched["unit"] == "s" else 1
    return Threshold(
        source=source,
        metric=metric,
        tag=matched_key["tag"],
        tag_value=matched_key["value"],
        aggregation=matched["aggregation"],
        percent=percent,
        operator=matched["operator"],
        limit=limit,
    )


def parse_all(thresholds: dict[str, list[str]]) -> list[Threshold]:
    return [parse(key, expression) for key, expressions in thresholds.items() for expression in expressions]


def evaluate(threshold: Threshold, stats: RunStats) -> Verdict:
    sample = threshold.sample(stats)
    if not sample.requests:
        selector = f"{{{threshold.tag}:{threshold.tag_value}}}" if threshold.tag else "the run"
        return Verdict(threshold, None, False, f"no requests matched {selector}")
    observed = threshold.observe(sample)
    if observed is None:
        return Verdict(threshold, None, False, "not measurable (the run lasted no time)")
    ok = OPERATORS[threshold.operator](observed, threshold.limit)
    unit = " ms" if threshold.metric == "http_req_duration" else ""
    shown = f"{observed:.4g}{unit}"
    return Verdict(threshold, observed, ok, f"{shown} over {sample.requests} requests")


def evaluate_all(thresholds: list[Threshold], stats: RunStats) -> list[Verdict]:
    return [evaluate(threshold, stats) for threshold in thresholds]
