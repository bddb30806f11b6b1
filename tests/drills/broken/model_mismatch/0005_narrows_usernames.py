"""Deliberately broken (a drill must catch it): the schema no longer matches the models.

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
    op.alter_column(
        "users", "username", type_=sa.String(32), existing_type=sa.String(64), existing_nullable=False
    )


def downgrade() -> None:
    op.alter_column(
        "users", "username", type_=sa.String(64), existing_type=sa.String(32), existing_nullable=False
    )
