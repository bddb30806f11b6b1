"""Chaos experiments: a declarative YAML format in the spirit of Chaos Toolkit.

An experiment names the backend settings it needs, how many replicas of it (state they must share,
breakers and rate-limit buckets, is only put to the test by two or more), a steady-state
hypothesis (probes that must pass before and, after the faults are gone, again), a method (faults,
traffic, waits, in order), the expectations the recorded history must meet, and rollbacks (which
always run; every fault is removed whatever happens). A bad file is refused with one line naming
the file, the field and the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from golive.chaos.toxiproxy.toxics import TOXIC_TYPES
from golive.core.documents import DocumentError, first_problem, read_yaml

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
State = Literal["CLOSED", "OPEN", "HALF_OPEN"]
MAX_REPLICAS = 4
# A replica of the experiment's backend, numbered from 0 as its logs are (sut-0.log, ...).
ReplicaIndex = Annotated[int, Field(ge=0, lt=MAX_REPLICAS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Request(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/")
    auth: Literal["anonymous", "user", "admin"] = "anonymous"
    body: dict[str, Any] | None = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def writes_content(self) -> bool:
        return self.method == "POST" and self.path == "/api/v1/content/generate"


class Tolerance(Strict):
    status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    max_latency_ms: float | None = Field(default=None, gt=0)

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value


class Probe(Strict):
    name: str
    request: Request
    expect: Tolerance = Field(default_factory=Tolerance)
    replica: ReplicaIndex | None = Field(default=None, description="None: the probe holds on every replica")


class Fault(Strict):
    proxy: str
    type: str = Field(description="a toxic type, or 'down' to disable the proxy")
    attributes: dict[str, Any] = Field(default_factory=dict)
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(default=1.0, ge=0, le=1)
    toxicity_scope: Literal["connection", "chunk"] = "connection"

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != "down" and value not in TOXIC_TYPES:
            raise ValueError(f"unknown fault {value!r}: one of down, {', '.join(sorted(TOXIC_TYPES))}")
        return value


class TrafficExpectation(Strict):
    """What one traffic step's own answers must be (the expectations judge the whole history)."""

    admitted: int | None = Field(default=None, ge=0, description="exactly this many 2xx answers")
    error_code: str | None = Field(default=None, description="every answer is a refusal with this code")
    reached_upstream: int | None = Field(
        default=None, ge=0, description="exactly this many of its requests reached the AI-service stand-in"
    )


class Traffic(Strict):
    request: Request
    count: int = Field(ge=1, le=10_000)
    concurrency: int = Field(default=1, ge=1, le=64)
    max_seconds: float = Field(default=120, gt=0, le=3600, description="the whole step, whatever happens")
    replica: ReplicaIndex | None = Field(
        default=None, description="None: spread over every replica in turn, as a load balancer does"
    )
    expect: TrafficExpectation | None = None


class WaitFor(Strict):
    breaker: str
    state: State
    timeout_seconds: float = Field(gt=0, le=600)
    replica: ReplicaIndex | None = Field(default=None, description="None: until every replica reports it")


class Step(Strict):
    """Exactly one action."""

    fault: Fault | None = None
    traffic: Traffic | None = None
    wait_seconds: float | None = Field(default=None, ge=0, le=600)
    wait_for: WaitFor | None = None
    remove_faults: bool | None = None
    upstream: dict[str, Any] | None = Field(default=None, description="program the AI-service stand-in")
    reset_breakers: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step has exactly one action, found {len(given)}: {', '.join(given) or 'none'}"
            )
        return self

    @property
    def action(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Expectations(Strict):
    all_enveloped: bool = True
    statuses_forbidden: list[int] = Field(default_factory=lambda: [500])
    error_codes_allowed: list[str] | None = None
    error_codes_required: list[str] = Field(default_factory=list)
    max_latency_ms: float | None = Field(default=None, gt=0)
    max_latency_ms_while_open: float | None = Field(default=None, gt=0)
    breakers_opened: list[str] = Field(default_factory=list)
    breakers_final: dict[str, State] = Field(default_factory=dict)
    recovery_within_seconds: float | None = Field(default=None, gt=0)
    no_acknowledged_write_lost: bool = False
    no_duplicate_writes: bool = False
    min_success_ratio: float | None = Field(default=None, ge=0, le=1)
    retries_at_least: dict[str, int] = Field(
        default_factory=dict, description="dependency -> retries it made"
    )


class Experiment(Strict):
    title: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    backend: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="settings of its backend"
    )
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="replicas of its backend")
    steady_state: list[Probe] = Field(min_length=1)
    method: list[Step] = Field(min_length=1)
    expectations: Expectations = Field(default_factory=Expectations)
    rollbacks: list[Step] = Field(default_factory=list)
    name: str = ""  # the file's stem

    @property
    def env(self) -> dict[str, str]:
        return {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in self.backend.items()
        }

    def cross_field_problem(self) -> str | None:
        """`field.path: problem` for the first thing no single field shows wrong: a replica the
        backend will not have, or a step expectation that nothing would judge."""
        problems = [
            self._missing_replica(f"steady_state.{index}", probe.replica)
            for index, probe in enumerate(self.steady_state)
        ]
        for section, steps in (("method", self.method), ("rollbacks", self.rollbacks)):
            for index, step in enumerate(steps):
                where = f"{section}.{index}.{step.action}"
                if step.traffic is not None:
                    problems.append(self._missing_replica(where, step.traffic.replica))
                    if section == "rollbacks" and step.traffic.expect is not None:
                        problems.append(f"{where}.expect: rollbacks run after the checks")
                if step.wait_for is not None:
                    problems.append(self._missing_replica(where, step.wait_for.replica))
        return next((problem for problem in problems if problem is not None), None)

    def _missing_replica(self, where: str, replica: int | None) -> str | None:
        if replica is None or replica < self.replicas:
            return None
        return (
            f"{where}.replica: replica {replica} does not exist (replicas: {self.replicas}, numbered from 0)"
        )


class ExperimentError(ValueError):
    pass


def load(path: Path) -> Experiment:
    try:
        document = read_yaml(path)
    except DocumentError as error:
        raise ExperimentError(str(error)) from None
    if not isinstance(document, dict):
        raise ExperimentError(f"{path}: document: must be a mapping")
    try:
        experiment = Experiment.model_validate(document)
    except ValidationError as error:
        raise ExperimentError(f"{path}: {first_problem(error)}") from None
    problem = experiment.cross_field_problem()
    if problem is not None:
        raise ExperimentError(f"{path}: {problem}")
    experiment.name = path.stem
    return experiment


def library() -> list[Path]:
    return sorted(EXPERIMENTS_DIR.glob("*.yaml"))


def resolve(names: list[str]) -> list[Path]:
    """Experiment names (file stems of the library) or paths; all of the library when empty."""
    if not names:
        return library()
    paths = []
    for name in names:
        candidate = Path(name)
        if not candidate.suffix:
            candidate = EXPERIMENTS_DIR / f"{name}.yaml"
        if not candidate.is_file():
            known = ", ".join(path.stem for path in library())
            raise ExperimentError(f"{name}: no such experiment (the library has: {known})")
        paths.append(candidate)
    return paths


def select_experiments(names: Sequence[str], tag: str | None) -> list[Experiment]:
    """The experiments named (names or files; the whole library when none) that have `tag`
    (any when None); ExperimentError names the first that cannot be read."""
    loaded = [load(path) for path in resolve(list(names))]
    return [experiment for experiment in loaded if tag is None or tag in experiment.tags]
