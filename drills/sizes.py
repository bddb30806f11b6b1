"""How much legacy data the drills seed: a plain value, kept apart from the seeding code (and its
database driver) so that a command choosing sizes need not import them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    users: int = 2_000
    content: int = 30_000
    agent_metrics: int = 50

    @property
    def total(self) -> int:
        return self.users + self.content + self.agent_metrics

    def rows(self) -> dict[str, int]:
        return {"users": self.users, "content": self.content, "agent_metrics": self.agent_metrics}
