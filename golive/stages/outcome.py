"""How a stage says what it did: one line of name, detail, seconds and passed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    name: str
    detail: str
    seconds: float
    ok: bool
    not_applicable: bool = False  # it could not run where it was asked to (the detail says why)


Report = Callable[[Outcome], None]


@contextmanager
def timed(name: str, report: Report) -> Iterator[dict[str, Any]]:
    """Times a stage; the body fills `detail` and `ok` (a stage that raises failed), or sets
    `not_applicable`."""
    result: dict[str, Any] = {"detail": "", "ok": False, "not_applicable": False}
    started = time.perf_counter()
    try:
        yield result
    except Exception as error:
        result["detail"], result["ok"] = f"{type(error).__name__}: {error}", False
        raise
    finally:
        seconds = round(time.perf_counter() - started, 1)
        report(Outcome(name, result["detail"], seconds, bool(result["ok"]), bool(result["not_applicable"])))
