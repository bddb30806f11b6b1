"""Deliberately broken (a drill must catch it): the downgrade wipes a legacy column's data.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE content SET status = status WHERE false")  # a data migration with nothing to do


def downgrade() -> None:
    op.execute("UPDATE content SET result = NULL")
