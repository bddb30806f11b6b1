"""Deliberately broken (a drill must catch it): a column loses the server default the models
give it, so rows inserted without a value get NULL (the models' DEFAULT 0 holds in no database).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("agent_metrics", "rate_limit_hits", server_default=None, existing_type=sa.Integer)


def downgrade() -> None:
    op.alter_column("agent_metrics", "rate_limit_hits", server_default="0", existing_type=sa.Integer)
