"""A chaos experiment's evidence, its journal (`chaos/NAME-ATTEMPT.json`, and `load/chaos-NAME.json`
for one run beside the load): every request and its outcome, every fault and breaker change on one
clock, the checks, and the verdict. The chaos runner writes it with these types (golive.chaos.journal
adds the clock and the recording) and the report reads it back with the same ones (`read`,
golive.core.records), so a change on either side breaks a test, not a gate. It lives here, below
both, because the report may not import the chaos package (docs/architecture.md).

The document also carries the keys of a Chaos Toolkit journal, for its users' tools and habits:
`status` (completed, failed, aborted, interrupted; skipped, golive's own, for an experiment its
target could not run, with the reason in `not_applicable`), `deviated`, `steady_states` (`before`,
`after`, `during`, each with `steady_state_met` and its probes), `run` and `rollbacks` (one result
per activity), `start`, `end`, `duration`. golive's own keys stay as they were; `experiment` is the
experiment's name (Chaos Toolkit puts the whole definition there). golive's hypothesis is the
steady state and the expectations together, so a run whose expectations did not hold is
`deviated` even when the steady state came back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator
from pydantic_core import InitErrorDetails

from golive.core.records import Record

# n/a: the target could not give what the experiment needs (a deployment), so it did not run.
Outcome = Literal["running", "held", "deviated", "steady-state-not-met", "error", "aborted", "n/a"]
# golive's outcome -> Chaos Toolkit's status: a steady state not met before, or a hypothesis that
# did not hold after, is "failed" there; a step that could not run stops the run ("aborted").
STATUSES: dict[Outcome, str] = {
    "running": "running",
    "held": "completed",
    "deviated": "failed",
    "steady-state-not-met": "failed",
    "error": "aborted",
    "aborted": "interrupted",  # Ctrl-C, SIGTERM
    "n/a": "skipped",  # golive's own: Chaos Toolkit has no word for a run that could not start
}
EventKind = Literal[
    "step",  # a step of the method begins
    "fault-added",
    "faults-removed",
    "upstream-programmed",  # the AI-service stand-in told how to answer
    "traffic-cut",  # a traffic step out of time
    "waited",  # a breaker reached the state a step waited for
    "wait-timed-out",
    "breakers-reset",
    "breaker",  # a breaker's change of state, as a replica reported it
    "probe",
    "error",  # what stopped the experiment
    "rolled-back",
    "rollback-failed",
]
# The figure of how long the steady state took to come back once the faults were removed (None:
# it did not within the grace the runner gives it).
RECOVERY_SECONDS = "recovery_seconds"


class _Record(Record):
    evidence: ClassVar[str] = "a chaos journal"


class RequestRecord(_Record):
    added_later: ClassVar[frozenset[str]] = frozenset({"replica", "step", "reached_upstream"})

    at: float  # seconds since the experiment started
    phase: str  # steady-state-before, method, steady-state-after
    method: str
    path: str
    status: int  # 0: no answer (connection failed or timed out)
    latency_ms: float
    error_code: str | None
    request_id: str | None
    problems: list[str]  # how the answer broke the envelope contract
    content_id: str | None = None
    writes: bool = False
    replica: int = 0  # which replica of the backend was asked (numbered as its logs: sut-0.log, ...)
    step: int | None = None  # the method step that sent it (-1: a rollback); None for probes
    reached_upstream: bool | None = None  # whether the AI-service stand-in saw it; None: not known


class BreakerDetail(BaseModel):
    """What an event about a breaker says: its name and state (and the replica, or replicas, that
    reported it: journals written before replicas existed do not say)."""

    model_config = ConfigDict(extra="allow")

    breaker: str
    state: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    error: str


# The details of the kinds of event the report reads, in the shape it reads them by: checked when an
# event is made and when it is read.
_DETAILS: dict[str, type[BaseModel]] = {
    "breaker": BreakerDetail,
    "waited": BreakerDetail,
    "error": ErrorDetail,
}


class Event(_Record):
    at: float  # seconds since the experiment started
    kind: EventKind
    detail: dict[str, Any]  # each kind's own: a fault's definition, a probe's answer...

    @model_validator(mode="after")
    def _detail_of_its_kind(self) -> Self:
        shape = _DETAILS.get(self.kind)
        try:
            if shape is not None:
                shape.model_validate(self.detail)
        except ValidationError as error:
            wrong = [
                InitErrorDetails(
                    type=found["type"],
                    loc=("detail", *found["loc"]),
                    input=found["input"],
                    ctx=found.get("ctx", {}),
                )
                for found in error.errors()
            ]
            raise ValidationError.from_exception_data(type(self).__name__, wrong) from None
        return self

    @property
    def breaker(self) -> BreakerDetail | None:
        """The breaker and the state a `breaker` event (a change seen) or a `waited` one (the
        state a step waited for, reached) reports; None for the other kinds."""
        return BreakerDetail.model_validate(self.detail) if _DETAILS.get(self.kind) is BreakerDetail else None

    @property
    def error(self) -> str | None:
        """What an `error` event says stopped the experiment."""
        return ErrorDetail.model_validate(self.detail).error if self.kind == "error" else None


class Check(_Record):
    name: str
    ok: bool
    detail: str


class Activity(_Record):
    """One activity's result as Chaos Toolkit journals it: a probe of the steady state, or a step
    of the method or of the rollbacks."""

    activity: dict[str, Any]  # {"type": "probe" | "action", "name": ..., and its definition}
    status: Literal["succeeded", "failed"]  # failed when it raised, or a probe got no answer
    start: str  # ISO 8601, UTC
    end: str
    duration: float
    output: Any = None
    tolerance_met: bool | None = None  # probes of the steady state only
    exception: list[str] | None = None


class SteadyState(_Record):
    steady_state_met: bool
    probes: list[Activity]


class SteadyStates(_Record):
    """Before the faults, and the last check after them (the one that ended the recovery); golive
    checks none during the method."""

    before: SteadyState | None = None
    after: SteadyState | None = None
    during: list[SteadyState] = Field(default_factory=list)


class JournalRecord(_Record):
    added_later: ClassVar[frozenset[str]] = frozenset({"replicas", "not_applicable"})

    experiment: str
    title: str
    seed: int | None
    replicas: int = 1  # of the experiment's backend
    started_at: float = Field(default_factory=time.time)  # epoch seconds
    outcome: Outcome = "running"
    requests: list[RequestRecord] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    figures: dict[str, float | None] = Field(default_factory=dict)
    duration_seconds: float = 0.0
    steady_states: SteadyStates = Field(default_factory=SteadyStates)
    run: list[Activity] = Field(default_factory=list)  # the method's steps
    rollbacks: list[Activity] = Field(default_factory=list)
    not_applicable: str | None = None  # why the target could not run it (outcome n/a)

    @property
    def held(self) -> bool:
        return self.outcome == "held"

    @property
    def recovery_seconds(self) -> float | None:
        return self.figures.get(RECOVERY_SECONDS)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        return STATUSES[self.outcome]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deviated(self) -> bool:
        return self.outcome == "deviated"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start(self) -> str:
        return iso(datetime.fromtimestamp(self.started_at, UTC))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end(self) -> str:
        return iso(datetime.fromtimestamp(self.started_at + self.duration_seconds, UTC))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration(self) -> float:
        return self.duration_seconds


def iso(instant: datetime) -> str:
    """A time as Chaos Toolkit's journals give it."""
    return instant.isoformat(timespec="microseconds")
