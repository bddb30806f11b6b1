"""What a Locust run measured, read from its own files: the final statistics (`--json-file`, one
entry per request name with its response-time histogram) and the per-second history
(`--csv-full-history`). Pure Python: pytest may import this, never Locust itself."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from golive.core.load_evidence import Figures, TimelineSecond

# `[group] METHOD /path`: how the journeys name their requests.
_GROUP = re.compile(r"^\[(?P<group>[a-z0-9_-]+)\]\s")
WORKER_MARKER = "WORKER"  # one pseudo-request per distributed worker (see the locustfile)
# A 429 a journey expected is counted apart, under its request's name with this suffix (Locust
# aggregates by name): the burst journey's, and a log-in that waited one out.
THROTTLED_SUFFIX = " (throttled)"
# The one journey that drives the rate limiter on purpose: only its 429s prove it holds a burst back.
BURST_GROUP = "burst"


class ResultsError(ValueError):
    """Locust's files are missing or not what Locust writes."""


@dataclass
class Endpoint:
    name: str
    method: str
    requests: int
    failures: int
    total_ms: float
    min_ms: float | None
    max_ms: float
    histogram: Counter[float]  # response time (Locust's rounding) -> count
    first: float  # epoch seconds
    last: float

    @property
    def group(self) -> str:
        match = _GROUP.match(self.name)
        return match["group"] if match else "other"

    @property
    def throttled(self) -> bool:
        return self.name.endswith(THROTTLED_SUFFIX)

    @property
    def expects_throttle(self) -> bool:
        return self.group == BURST_GROUP


@dataclass
class RunStats:
    endpoints: list[Endpoint]
    workers: list[str] = field(default_factory=list)  # the markers of distributed workers

    def select(self, group: str | None = None, name: str | None = None) -> Sample:
        chosen = [
            endpoint
            for endpoint in self.endpoints
            if (group is None or endpoint.group == group) and (name is None or endpoint.name == name)
        ]
        return Sample(chosen, self.duration)

    @property
    def duration(self) -> float:
        """Seconds from the first request to the last one."""
        if not self.endpoints:
            return 0.0
        return max(e.last for e in self.endpoints) - min(e.first for e in self.endpoints)

    @property
    def groups(self) -> list[str]:
        return sorted({endpoint.group for endpoint in self.endpoints})


@dataclass
class Sample:
    """The requests of some endpoints together: the numbers thresholds are evaluated on."""

    endpoints: list[Endpoint]
    duration: float

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    @property
    def failures(self) -> int:
        return sum(e.failures for e in self.endpoints)

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    @property
    def throughput(self) -> float | None:
        return self.requests / self.duration if self.duration > 0 else None

    @property
    def average_ms(self) -> float | None:
        return sum(e.total_ms for e in self.endpoints) / self.requests if self.requests else None

    @property
    def min_ms(self) -> float | None:
        return min((e.min_ms for e in self.endpoints if e.min_ms is not None), default=None)

    @property
    def max_ms(self) -> float | None:
        return max((e.max_ms for e in self.endpoints if e.requests), default=None)

    def percentile_ms(self, percent: float) -> float | None:
        """Nearest rank over the merged histograms: the smallest time at or under which at least
        `percent` % of the requests finished (Locust rounds times above 100 ms to 2 digits)."""
        histogram: Counter[float] = Counter()
        for endpoint in self.endpoints:
            histogram.update(endpoint.histogram)
        total = sum(histogram.values())
        if not total:
            return None
        rank = max(1, math.ceil(percent / 100 * total))
        seen = 0
        for value in sorted(histogram):
            seen += histogram[value]
            if seen >= rank:
                return value
        return max(histogram)

    def summary(self) -> Figures:
        return Figures(
            requests=self.requests,
            failures=self.failures,
            failure_rate=_round(self.failure_rate, 5),
            requests_per_second=_round(self.throughput, 2),
            avg_ms=_round(self.average_ms, 1),
            p50_ms=self.percentile_ms(50),
            p95_ms=self.percentile_ms(95),
            p99_ms=self.percentile_ms(99),
            max_ms=_round(self.max_ms, 1),
        )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def read_stats(path: Path) -> RunStats:
    """Locust's `--json-file` output."""
    try:
        entries = json.loads(path.read_text())
    except OSError as error:
        raise ResultsError(f"{path.name}: {error.strerror}: Locust wrote no statistics") from None
    except ValueError as error:
        raise ResultsError(f"{path.name}: not JSON ({error})") from None
    if not isinstance(entries, list):
        raise ResultsError(f"{path.name}: expected a list of request statistics")
    endpoints, workers = [], []
    try:
        for entry in entries:
            if entry["method"] == WORKER_MARKER:
                workers.append(entry["name"])
                continue
            endpoints.append(
                Endpoint(
                    name=entry["name"],
                    method=entry["method"],
                    requests=int(entry["num_requests"]),
                    failures=int(entry["num_failures"]),
                    total_ms=float(entry["total_response_time"]),
                    min_ms=None if entry["min_response_time"] is None else float(entry["min_response_time"]),
                    max_ms=float(entry["max_response_time"]),
                    histogram=Counter({float(k): int(v) for k, v in entry["response_times"].items()}),
                    first=float(entry["start_time"]),
                    last=float(entry["last_request_timestamp"] or entry["start_time"]),
                )
            )
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsError(f"{path.name}: an entry is not Locust's request statistics ({error!r})") from None
    return RunStats(endpoints, sorted(workers))


def read_history(path: Path) -> list[TimelineSecond]:
    """The per-second series from `<prefix>_stats_history.csv`, timed from its first second (the
    run's); the breakers' states are not Locust's to know (the load run adds them)."""
    try:
        with path.open(newline="") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise ResultsError(f"{path.name}: {error.strerror}") from None
    return list(_seconds(rows))


def _seconds(rows: Iterable[dict[str, str]]) -> Iterable[TimelineSecond]:
    start: int | None = None
    for row in rows:
        if row.get("Name") != "Aggregated":
            continue
        try:
            at = int(row["Timestamp"])
            second = TimelineSecond(
                t=at - (at if start is None else start),
                at=at,
                users=int(row["User Count"]),
                requests_per_second=round(float(row["Requests/s"]), 2),
                failures_per_second=round(float(row["Failures/s"]), 2),
                p50_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
                requests=int(row["Total Request Count"]),
                failures=int(row["Total Failure Count"]),
                breakers={},
            )
        except (KeyError, ValueError, TypeError):
            continue  # a row being written as we read
        start = at if start is None else start
        yield second


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "N/A" before the first request
