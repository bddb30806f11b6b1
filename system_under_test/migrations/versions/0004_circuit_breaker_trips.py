"""Breaker trips persisted: a breaker restored from the database keeps how often it has opened.

NOT NULL with a constant server default: PostgreSQL 11+ adds it without rewriting the table, and
rows written before it count as 0 trips (what was known of them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("circuit_breaker_state", sa.Column("trips", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("circuit_breaker_state", "trips")
