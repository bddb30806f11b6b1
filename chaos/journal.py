"""An experiment's journal as the runner keeps it: its evidence (golive.core.chaos_evidence, the type
the report reads back) with the clock the run is timed on, and the ways the runner records into it
(events, the steady state's checks, timed activities)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import PrivateAttr

from golive.core.chaos_evidence import Activity, Event, EventKind, JournalRecord, SteadyState, iso


class Journal(JournalRecord):
    _clock: float = PrivateAttr(default_factory=time.monotonic)

    def now(self) -> float:
        """Seconds since the journal began."""
        return round(time.monotonic() - self._clock, 4)

    def event(self, kind: EventKind, **detail: Any) -> None:
        self.events.append(Event(at=self.now(), kind=kind, detail=detail))

    def steady_state(self, phase: str, probes: list[Activity]) -> None:
        """One check of the steady state; after the faults, the last check (the one that ended
        the recovery) is the one that counts."""
        checked = SteadyState(steady_state_met=all(probe.tolerance_met for probe in probes), probes=probes)
        if phase == "steady-state-before":
            self.steady_states.before = checked
        else:
            self.steady_states.after = checked

    @contextmanager
    def activity(self, kind: str, definition: dict[str, Any], into: list[Activity]) -> Iterator[Activity]:
        """Times what runs inside into one Activity of `into`; whatever it raises marks it failed
        and goes on up."""
        start, clock = datetime.now(UTC), time.monotonic()
        result = Activity(
            activity={"type": kind, **definition}, status="succeeded", start=iso(start), end="", duration=0.0
        )
        try:
            yield result
        except BaseException as error:
            result.status = "failed"
            result.exception = [f"{type(error).__name__}: {error}"]
            raise
        finally:
            result.duration = round(time.monotonic() - clock, 4)
            result.end = iso(datetime.now(UTC))
            into.append(result)
