"""The load run's evidence, `load.json` and `timeline.json`, one type each: the load run writes
them with these types and the report reads them back with the same ones (`read`, golive.core.records),
so a change on either side breaks a test, not a gate. They live here, below both, because the report
may not import the load tests (docs/architecture.md).
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from golive.core.records import EvidenceError, Record

LOAD_FILE = "load.json"
TIMELINE_FILE = "timeline.json"
# A copy of the earlier run's load.json this one was compared with (`--baseline`), next to it.
BASELINE_FILE = "baseline.json"
# The load directory of a run directory: where `golive load` and `golive validate` write.
LOAD_DIR = "load"
_MODEL_NAME = re.compile(r"^model name\s*:\s*(?P<model>.+)$", re.MULTILINE)


class _Record(Record):
    evidence: ClassVar[str] = "the load evidence"


class LoadProfile(_Record):
    """A load profile's fields (loadtests/profiles.py adds the checks and the behaviour)."""

    name: str = ""
    description: str = ""
    users: Annotated[int, Field(ge=1, le=10_000)]
    spawn_rate: Annotated[float, Field(gt=0, le=1_000)]
    run_time: str | int
    journeys: dict[str, Annotated[int, Field(ge=0)]]
    replicas: Annotated[int, Field(ge=1, le=16)] = 1
    backend: dict[str, str | int | float | bool] = Field(default_factory=dict)
    accounts: Annotated[int | None, Field(ge=1, le=10_000)] = None  # default: one per user
    thresholds: dict[str, list[str]] = Field(default_factory=dict)


class Machine(_Record):
    """What the load generator ran on: latencies from another machine are not comparable."""

    cpus: int
    cpu_model: str
    python: str

    @classmethod
    def here(cls) -> Machine:
        try:
            matched = _MODEL_NAME.search(Path("/proc/cpuinfo").read_text())
        except OSError:
            matched = None
        model = matched["model"].strip() if matched else platform.processor() or platform.machine()
        return cls(cpus=os.cpu_count() or 0, cpu_model=model, python=platform.python_version())


class Figures(_Record):
    """Some requests together: how many, how many failed, how fast."""

    requests: int
    failures: int
    failure_rate: float | None
    requests_per_second: float | None
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class EndpointFigures(Figures):
    """One request name of the journeys (`[group] METHOD /path`, Locust aggregates by name)."""

    group: str
    # Only the burst journey drives the rate limiter on purpose; a "throttled" name holds the 429s
    # a journey expected (the load run decides both, the report counts by them).
    expects_throttle: bool
    throttled: bool


class ThresholdOutcome(_Record):
    threshold: str  # as the profile wrote it
    ok: bool
    observed: float | None
    detail: str


class GeneratorCpu(_Record):
    """Locust's own CPU, all its processes together, in % of one core."""

    average: float | None
    peak: float | None


class LoadRecord(_Record):
    """`load.json`: what one load run measured, under which load and on which machine."""

    run_id: str  # the run directory's name: what a later run compared with it names
    profile: LoadProfile
    machine: Machine
    backends: int  # the backend URLs the users were spread over
    ok: bool  # every threshold held
    locust_workers: int
    workers_reporting: list[str]
    duration_seconds: float
    total: Figures
    groups: dict[str, Figures]
    endpoints: dict[str, EndpointFigures]
    thresholds: list[ThresholdOutcome]
    generator_cpu_percent: GeneratorCpu


def read_load_record(path: Path) -> LoadRecord:
    """A load run's `load.json`, given as the file, its load directory or its run directory."""
    for candidate in (path, path / LOAD_FILE, path / LOAD_DIR / LOAD_FILE):
        if candidate.is_file():
            return LoadRecord.read(candidate)
    raise EvidenceError(path, f"no {LOAD_FILE} there, nor in {path / LOAD_DIR}")


class TimelineSecond(_Record):
    """One second of the run, all requests together (Locust's "Aggregated" row of its per-second
    history, loadtests/results.py), and each breaker's state in it (the load run's watcher)."""

    t: int  # seconds since the run's first
    at: int  # epoch second
    users: int
    requests_per_second: float
    failures_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests: int
    failures: int
    breakers: dict[str, str]


class TimelineEvent(BaseModel):
    """Something that happened at `t` (a breaker's change, a fault, an experiment's end); each
    kind carries its own details (a breaker's name and state, a fault's target...)."""

    model_config = ConfigDict(extra="allow")

    t: float
    kind: str


class TimelineRecord(_Record):
    """`timeline.json`: the run second by second, and its events on the same clock."""

    started_at: int  # epoch second of t = 0
    seconds: list[TimelineSecond]
    events: list[TimelineEvent]
