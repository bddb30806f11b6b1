"""What an experiment run recorded: every request and its outcome, every fault and breaker
change on one clock, the checks, and the verdict. Written as JSON into the run directory.

The document also carries the keys of a Chaos Toolkit journal, for its users' tools and habits:
`status` (completed, failed, aborted, interrupted), `deviated`, `steady_states` (`before`, `after`,
`during`, each with `steady_state_met` and its probes), `run` and `rollbacks` (one result per
activity), `start`, `end`, `duration`. golive's own keys stay as they were; `experiment` is the
experiment's name (Chaos Toolkit puts the whole definition there). golive's hypothesis is the
steady state and the expectations together, so a run whose expectations did not hold is
`deviated` even when the steady state came back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# golive's outcome -> Chaos Toolkit's status: a steady state not met before, or a hypothesis that
# did not hold after, is "failed" there; a step that could not run stops the run ("aborted").
STATUSES = {
    "running": "running",
    "held": "completed",
    "deviated": "failed",
    "steady-state-not-met": "failed",
    "error": "aborted",
    "aborted": "interrupted",  # Ctrl-C, SIGTERM
}


@dataclass
class RequestRecord:
    at: float  # seconds since the experiment started
    phase: str  # steady-state-before, method, recovery, steady-state-after
    method: str
    path: str
    status: int  # 0: no answer (connection failed or timed out)
    latency_ms: float
    error_code: str | None
    request_id: str | None
    problems: list[str]
    content_id: str | None = None
    writes: bool = False
    replica: int = 0  # which replica of the backend was asked (numbered as its logs: sut-0.log, ...)
    step: int | None = None  # the method step that sent it (-1: a rollback); None for probes
    reached_upstream: bool | None = None  # whether the AI-service stand-in saw it; None: not known


@dataclass
class Event:
    at: float
    kind: str  # fault-added, faults-removed, breaker, step, probe, rollback
    detail: dict[str, Any]  # breaker and probe events name the replica that reported them


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Activity:
    """One activity's result as Chaos Toolkit journals it: a probe of the steady state, or a step
    of the method or of the rollbacks."""

    activity: dict[str, Any]  # {"type": "probe" | "action", "name": ..., and its definition}
    status: str  # succeeded; failed when it raised, or a probe got no answer
    start: str  # ISO 8601, UTC
    end: str
    duration: float
    output: Any = None
    tolerance_met: bool | None = None  # probes of the steady state only
    exception: list[str] | None = None


@dataclass
class Journal:
    experiment: str
    title: str
    seed: int | None
    replicas: int = 1  # of the experiment's backend
    started_at: float = field(default_factory=time.time)
    outcome: str = "running"  # held, deviated, steady-state-not-met, aborted
    requests: list[RequestRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    duration_seconds: float = 0.0
    steady_states: dict[str, Any] = field(
        default_factory=lambda: {"before": None, "after": None, "during": []}
    )
    run: list[Activity] = field(default_factory=list)  # the method's steps
    rollbacks: list[Activity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._clock = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self._clock, 4)

    def event(self, kind: str, **detail: Any) -> None:
        self.events.append(Event(self.now(), kind, detail))

    @property
    def held(self) -> bool:
        return self.outcome == "held"

    @property
    def status(self) -> str:
        return STATUSES[self.outcome]

    @property
    def deviated(self) -> bool:
        return self.outcome == "deviated"

    def steady_state(self, phase: str, probes: list[Activity]) -> None:
        """One check of the steady state; after the faults, the last check (the one that ended
        the recovery) is the one that counts."""
        met = all(probe.tolerance_met for probe in probes)
        self.steady_states["before" if phase == "steady-state-before" else "after"] = {
            "steady_state_met": met,
            "probes": probes,
        }

    @contextmanager
    def activity(self, kind: str, definition: dict[str, Any], into: list[Activity]) -> Iterator[Activity]:
        """Times what runs inside into one Activity of `into`; whatever it raises marks it failed
        and goes on up."""
        start, clock = datetime.now(UTC), time.monotonic()
        result = Activity({"type": kind, **definition}, "succeeded", _iso(start), "", 0.0)
        try:
            yield result
        except BaseException as error:
            result.status = "failed"
            result.exception = [f"{type(error).__name__}: {error}"]
            raise
        finally:
            result.duration = round(time.monotonic() - clock, 4)
            result.end = _iso(datetime.now(UTC))
            into.append(result)

    def write(self, path: Path) -> None:
        document = {key: value for key, value in asdict(self).items() if not key.startswith("_")}
        start = datetime.fromtimestamp(self.started_at, UTC)
        document |= {
            "status": self.status,
            "deviated": self.deviated,
            "start": _iso(start),
            "end": _iso(datetime.fromtimestamp(self.started_at + self.duration_seconds, UTC)),
            "duration": self.duration_seconds,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, default=str))


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="microseconds")
