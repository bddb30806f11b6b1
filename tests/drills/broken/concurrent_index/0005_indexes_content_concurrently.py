"""The right way (the drill must pass it): the same index built CONCURRENTLY, outside the
migration's transaction, so writes to content go on during the build.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_drill_content_status", "content", ["status", "created_at"], postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_drill_content_status", table_name="content", postgresql_concurrently=True)
