"""What an experiment run recorded: every request and its outcome, every fault and breaker
change on one clock, the checks, and the verdict. Written as JSON into the run directory."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass
class Event:
    at: float
    kind: str  # fault-added, faults-removed, breaker, step, probe, rollback
    detail: dict[str, Any]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Journal:
    experiment: str
    title: str
    seed: int | None
    started_at: float = field(default_factory=time.time)
    outcome: str = "running"  # held, deviated, steady-state-not-met, aborted
    requests: list[RequestRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._clock = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self._clock, 4)

    def event(self, kind: str, **detail: Any) -> None:
        self.events.append(Event(self.now(), kind, detail))

    @property
    def held(self) -> bool:
        return self.outcome == "held"

    def write(self, path: Path) -> None:
        document = {key: value for key, value in asdict(self).items() if not key.startswith("_")}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, default=str))
