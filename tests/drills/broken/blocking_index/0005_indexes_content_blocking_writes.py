"""Deliberately broken (a drill must catch it): an index on content, which holds data, built
without CONCURRENTLY, so every write to content waits for the whole build.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_drill_content_status", "content", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_drill_content_status", table_name="content")
