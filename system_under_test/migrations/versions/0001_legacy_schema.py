"""The legacy schema, as it stood before the migration: users, content, agent_metrics.

Revision ID: 0001
Revises:
Create Date: 2025-09-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("hashed_password", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False, server_default="user"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", sa.TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('admin', 'user')", name="ck_users_role"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "content",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_content_user_id_users"),
            nullable=False,
        ),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False, server_default="text"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.TIMESTAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('processing', 'completed', 'failed')", name="ck_content_status"),
    )
    op.create_index("ix_content_user_id", "content", ["user_id"])
    op.create_table(
        "agent_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_name", sa.String(100), nullable=False),
        sa.Column("requests_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_seen_at", sa.TIMESTAMP, nullable=True),
        sa.UniqueConstraint("agent_name", name="uq_agent_metrics_agent_name"),
    )


def downgrade() -> None:
    op.drop_table("agent_metrics")
    op.drop_index("ix_content_user_id", table_name="content")
    op.drop_table("content")
    op.drop_table("users")
