"""GET /api/v1/agents/metrics, from the agent_metrics table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from ..db.models import AgentMetric
from ..db.session import DbSession
from ..envelope import Envelope, ok
from ..fields import StoredText, UtcDatetime
from ..security import CurrentUser

router = APIRouter(prefix="/agents", tags=["agents"], responses={401: {"description": "Not authenticated"}})


class AgentMetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agent_name: str
    requests_total: int
    errors_total: int
    error_rate: float
    last_seen_at: UtcDatetime | None
    circuit_breaker_trips: int | None
    rate_limit_hits: int | None
    avg_response_time: float | None


@router.get("/metrics", response_model=Envelope[list[AgentMetricOut]])
async def agent_metrics(
    session: DbSession,
    principal: CurrentUser,
    agent: Annotated[StoredText | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    query = select(AgentMetric).order_by(AgentMetric.agent_name).limit(limit)
    if agent is not None:
        query = query.where(AgentMetric.agent_name == agent)
    rows = await session.scalars(query)
    return ok(
        [
            AgentMetricOut(
                agent_name=row.agent_name,
                requests_total=row.requests_total,
                errors_total=row.errors_total,
                error_rate=round(row.errors_total / row.requests_total, 6) if row.requests_total else 0.0,
                last_seen_at=row.last_seen_at,
                circuit_breaker_trips=row.circuit_breaker_trips,
                rate_limit_hits=row.rate_limit_hits,
                avg_response_time=row.avg_response_time,
            )
            for row in rows
        ]
    )
