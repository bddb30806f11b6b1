"""Load regression: this run's endpoints against an earlier run's, so that a backend made several
times slower, but still under the profile's absolute thresholds, is no GO.

The mechanism. The baseline is an earlier run's `load.json`, named with `--baseline RUN_DIR`
(`golive validate` and `golive load`): for a team, its previous release's GO ("compare to the last
GO"); for `golive selftest`, its own run of the unpatched backend. A copy is kept next to this
run's results (`load/baseline.json`), so the report, rebuilt at any time from the run directory,
judges the same comparison. A committed baseline was not chosen: it would describe the reference
backend on the machine that recorded it, which says nothing about a team's own backend, and
nothing about another machine.

When a comparison applies. Latencies are compared only between runs that loaded the backend
equally (the profile's users, spawn rate, run time, journeys, replicas, backend settings and
accounts; the Locust workers; the number of backends) on the same machine (cores, CPU model,
Python), and only against a baseline whose own thresholds held. Otherwise the regression check
says n/a and why: a baseline from another machine, or of another load, must not turn into a false
NO-GO, and no silent PASS either. There is no calibration across machines: each candidate (the
backend's own /health, a CPU probe in the same run) is slowed by some of the very regressions it
would have to reveal (a slow database pool slows /health; a backend burning CPU slows the probe).

The statistic, from measurements. 20 smoke runs (15 s, 10 users) of the unchanged reference
backend on a 2-core machine busy with other work (load average 4 to 14). An endpoint's p95 varied
up to 8.8x from run to run (GET /auth/me of the burst journey: 25 to 220 ms; /health: 230 to
1000 ms at load 4 to 6): over the 20 to 40 requests an endpoint gets, the p95 is its second-slowest
request, and the log-ins of the first seconds (argon2, slow on purpose) decide it. The medians of
the endpoints with 20 requests or more held still: /auth/me 7 to 13 ms, /health 9 to 23 ms, the
throttled 429s 1 to 4 ms (Locust counts whole milliseconds). So a quantile is compared only when
each run has at least `REQUESTS_BEYOND` requests above it (the median from 20 requests, the p95
from 200): the smoke profile is judged on its medians, longer profiles (baseline: 60 s, 50 users)
on the p95 too. A quantile regressed when it exceeds `RATIO` times the baseline's plus `SLACK_MS`
(the slack for what a busy machine adds to a request of a few milliseconds, the ratio for what it
multiplies). Over every ordered pair of those runs: no false regression among the 86 pairs of the
14 runs at load 4 to 7 (1.5x + 5 ms gave 4), one among the 30 pairs at load 11 to 14, where no run
held its thresholds anyway (1.5x + 10 ms gave 3). The defect of tests/mutants/41 (GET /auth/me
50 ms slower: its median 61 to 66 ms, 4.7 to 5.1x) was caught in all 84 pairs with those 14 runs,
once in a run that held every absolute threshold. What 2x + 10 ms cannot see on a smoke run is
a fast endpoint made a little slower (7 ms made 21 ms stays under its 24 ms limit): below that,
this machine's own noise is as large.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from golive.core.load_evidence import EndpointFigures, LoadRecord

RATIO = 2.0
SLACK_MS = 10.0
QUANTILES = (50, 95)
REQUESTS_BEYOND = 10
RULE = f"{RATIO:g}x the baseline's + {SLACK_MS:g} ms"  # what a quantile may grow to
NO_BASELINE = "no baseline given (--baseline RUN_DIR compares with an earlier GO run on this machine)"
# What makes two runs the same load, besides the Locust workers and the number of backends.
LOAD_FIELDS = ("users", "spawn_rate", "run_time", "journeys", "replicas", "backend", "accounts")


def requests_needed(quantile: int) -> int:
    """The requests a run needs for `REQUESTS_BEYOND` of them to lie above the quantile."""
    return -(-REQUESTS_BEYOND * 100 // (100 - quantile))


@dataclass(frozen=True)
class QuantileChange:
    """One quantile of one endpoint, in this run and in the baseline."""

    endpoint: str
    quantile: int
    ms: float
    baseline_ms: float

    @property
    def limit_ms(self) -> float:
        return RATIO * self.baseline_ms + SLACK_MS

    @property
    def regressed(self) -> bool:
        return self.ms > self.limit_ms

    @property
    def factor(self) -> str:
        return f"{self.ms / self.baseline_ms:.1f}x" if self.baseline_ms else "up from 0 ms"

    def __str__(self) -> str:
        return (
            f"{self.endpoint}: p{self.quantile} {self.ms:g} ms, {self.factor} the baseline's "
            f"{self.baseline_ms:g} ms (limit {self.limit_ms:g} ms)"
        )


@dataclass(frozen=True)
class Regression:
    """The comparison, or why there was none (`not_compared`)."""

    baseline_run: str | None
    not_compared: str | None = None
    changes: list[QuantileChange] = field(default_factory=list)
    too_few_requests: list[str] = field(default_factory=list)  # endpoints with no quantile compared

    @property
    def regressed(self) -> list[QuantileChange]:
        return [change for change in self.changes if change.regressed]

    @property
    def summary(self) -> str:
        """One line: n/a and why, what regressed by how much, or what held."""
        if self.not_compared is not None:
            return f"regression: n/a ({self.not_compared})"
        if self.regressed:
            named = "; ".join(str(change) for change in self.regressed)
            return f"regressed against run {self.baseline_run}: {named}"
        endpoints = len({change.endpoint for change in self.changes})
        counted = ", ".join(
            f"p{q} of {sum(change.quantile == q for change in self.changes)}" for q in QUANTILES
        )
        return (
            f"no regression against run {self.baseline_run}: {endpoints} endpoints within {RULE} "
            f"({counted}; {len(self.too_few_requests)} with too few requests)"
        )


def compare(current: LoadRecord, baseline: LoadRecord | None) -> Regression:
    if baseline is None:
        return Regression(None, NO_BASELINE)
    reason = _not_comparable(current, baseline)
    if reason is not None:
        return Regression(baseline.run_id, reason)
    changes: list[QuantileChange] = []
    too_few: list[str] = []
    for name, figures in sorted(current.endpoints.items()):
        before = baseline.endpoints.get(name)
        compared = [] if before is None else _changes(name, figures, before)
        changes += compared
        if not compared:
            too_few.append(name)
    if not changes:
        needed = requests_needed(min(QUANTILES))
        reason = f"no endpoint had the {needed} requests a median needs in both runs"
        return Regression(baseline.run_id, reason, [], too_few)
    return Regression(baseline.run_id, None, changes, too_few)


def _changes(name: str, figures: EndpointFigures, before: EndpointFigures) -> list[QuantileChange]:
    changes = []
    for quantile in QUANTILES:
        now, then = _quantile(figures, quantile), _quantile(before, quantile)
        enough = min(figures.requests, before.requests) >= requests_needed(quantile)
        if enough and now is not None and then is not None:
            changes.append(QuantileChange(name, quantile, now, then))
    return changes


def _quantile(figures: EndpointFigures, quantile: int) -> float | None:
    return {50: figures.p50_ms, 95: figures.p95_ms}[quantile]


def _not_comparable(current: LoadRecord, baseline: LoadRecord) -> str | None:
    if not baseline.ok:
        return f"the baseline run {baseline.run_id} failed its own thresholds: it is no reference"
    machine = _differences(current.machine.model_dump(), baseline.machine.model_dump())
    if machine:
        return f"the baseline run {baseline.run_id} ran on another machine: {machine}"
    load = _differences(_load(current), _load(baseline))
    if load:
        return f"the baseline run {baseline.run_id} ran another load: {load}"
    return None


def _load(record: LoadRecord) -> dict[str, Any]:
    return {
        **record.profile.model_dump(include=set(LOAD_FIELDS)),
        "locust_workers": record.locust_workers,
        "backends": record.backends,
    }


def _differences(here: dict[str, Any], there: dict[str, Any]) -> str:
    """`key this-run (baseline: value)`, for each key that differs."""
    return ", ".join(f"{key} {here[key]} (baseline: {there[key]})" for key in here if here[key] != there[key])
