"""The health stage's evidence, `health.json`: what each of the guide's health endpoints answered,
the answer's body included, for the report to judge what the backend says about each dependency
and not just its status. The stage writes it with these types and the report reads it back with the
same ones (`read`, golive.core.records), so a change on either side breaks a test, not a gate. It
lives here because the report may not import the stages (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from golive.core.records import Record

HEALTH_FILE = "health.json"


class _Record(Record):
    evidence: ClassVar[str] = "the health checks"


class HealthCheck(_Record):
    # Files written before the bodies were kept have none: they prove no dependency up.
    added_later: ClassVar[frozenset[str]] = frozenset({"body"})

    path: str
    status_code: int | None  # None: no answer
    state: str | None  # what the answer's data says of the whole (`status`), if anything
    ms: float | None
    problem: str | None  # why it is not 200 with the success envelope
    body: Any = None  # the answer (redacted), as the backend gave it


class HealthRecord(_Record):
    url: str  # redacted
    checks: list[HealthCheck]
