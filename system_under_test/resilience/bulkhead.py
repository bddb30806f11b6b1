"""Bulkhead: a bounded number of concurrent calls per dependency, per replica; no queue.

A full bulkhead rejects at once (503 BULKHEAD_FULL): on an event loop, waiting for a slot only
moves the pile-up somewhere less visible.
"""

from __future__ import annotations

from ..envelope import ApiError, ErrorCode


class BulkheadFullError(ApiError):
    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            503,
            f"Too many concurrent calls to {name!r} (limit {limit})",
            ErrorCode.BULKHEAD_FULL,
            headers={"Retry-After": "1"},
            details={"dependency": name, "max_concurrent": limit},
        )


class Bulkhead:
    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.in_use = 0
        self.rejected = 0

    def enter(self) -> None:
        # Single event loop: check-and-increment cannot interleave, no lock needed.
        if self.in_use >= self.limit:
            self.rejected += 1
            raise BulkheadFullError(self.name, self.limit)
        self.in_use += 1

    def exit(self) -> None:
        self.in_use -= 1
