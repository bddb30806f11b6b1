"""Writes to agent_metrics: one upsert per event, counted in the database (exact across replicas)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import Insert, insert

from .models import AgentMetric


def utcnow() -> datetime:
    """Naive UTC, as the guide's TIMESTAMP (without time zone) columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def count_call(agent: str, elapsed: float, failed: bool, tripped: bool) -> Insert:
    statement = insert(AgentMetric).values(
        agent_name=agent,
        requests_total=1,
        errors_total=int(failed),
        circuit_breaker_trips=int(tripped),
        last_seen_at=utcnow(),
        avg_response_time=elapsed,
    )
    current = AgentMetric
    return statement.on_conflict_do_update(
        index_elements=[current.agent_name],
        set_={
            "requests_total": current.requests_total + 1,
            "errors_total": current.errors_total + int(failed),
            "circuit_breaker_trips": func.coalesce(current.circuit_breaker_trips, 0) + int(tripped),
            "last_seen_at": statement.excluded.last_seen_at,
            # A running mean; rows from before the migration have no average yet.
            "avg_response_time": (
                func.coalesce(current.avg_response_time, elapsed) * current.requests_total + elapsed
            )
            / (current.requests_total + 1),
        },
    )


def count_rate_limit_hit(agent: str) -> Insert:
    statement = insert(AgentMetric).values(agent_name=agent, rate_limit_hits=1, last_seen_at=utcnow())
    return statement.on_conflict_do_update(
        index_elements=[AgentMetric.agent_name],
        set_={
            "rate_limit_hits": func.coalesce(AgentMetric.rate_limit_hits, 0) + 1,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    )
