"""Add resilience features: the guide's circuit breaker and rate limit tables, and agent_metrics columns.

Follows the guide's "Database Migrations" section. Defaults are server defaults (the guide's
`default=` would only apply to rows inserted through SQLAlchemy, not to the SQL it also documents).

Revision ID: 0002
Revises: 0001
Create Date: 2025-09-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "circuit_breaker_state",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("state", sa.String(50), nullable=False),
        sa.Column("failure_count", sa.Integer, server_default="0"),
        sa.Column("last_failure_time", sa.TIMESTAMP),
        sa.Column("next_attempt_time", sa.TIMESTAMP),
        sa.Column("created_at", sa.TIMESTAMP, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.TIMESTAMP, server_default=sa.func.current_timestamp()),
        sa.CheckConstraint("state IN ('CLOSED', 'OPEN', 'HALF_OPEN')", name="ck_circuit_breaker_state_state"),
    )
    op.create_table(
        "rate_limit_state",
        sa.Column("identifier", sa.String(255), primary_key=True),
        sa.Column("tokens", sa.Float, server_default="0"),
        sa.Column("last_refill", sa.TIMESTAMP),
        sa.Column("window_start", sa.TIMESTAMP),
        sa.Column("request_count", sa.Integer, server_default="0"),
        sa.Column("created_at", sa.TIMESTAMP, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.TIMESTAMP, server_default=sa.func.current_timestamp()),
    )
    # Nullable with a constant default: PostgreSQL 11+ adds these without rewriting the table.
    op.add_column("agent_metrics", sa.Column("circuit_breaker_trips", sa.Integer, server_default="0"))
    op.add_column("agent_metrics", sa.Column("rate_limit_hits", sa.Integer, server_default="0"))
    op.add_column("agent_metrics", sa.Column("avg_response_time", sa.Float))


def downgrade() -> None:
    op.drop_column("agent_metrics", "avg_response_time")
    op.drop_column("agent_metrics", "rate_limit_hits")
    op.drop_column("agent_metrics", "circuit_breaker_trips")
    op.drop_table("rate_limit_state")
    op.drop_table("circuit_breaker_state")
