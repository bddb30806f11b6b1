"""Deliberately broken (a drill must catch it): the downgrade leaves the upgrade's table behind.

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
    op.create_table("drill_orphan", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    pass  # forgot op.drop_table("drill_orphan")
