"""Deliberately broken (a drill must catch it): content, holding data, is rewritten (a column
with a volatile default, added and dropped again: the schema ends as it was) and kept locked
while the migration sleeps.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE content ADD COLUMN drill_noise double precision DEFAULT random()")
    op.execute("ALTER TABLE content DROP COLUMN drill_noise")
    op.execute("SELECT pg_sleep(1.5)")


def downgrade() -> None:
    pass  # nothing of the schema changed
