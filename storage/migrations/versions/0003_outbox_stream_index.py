"""outbox: index each incident's rows per channel

A claim takes only the first undelivered row of each incident and channel; this index
lets it find the rows ahead of a candidate without scanning every pending row.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_stream", "outbox", ["incident_id", "channel", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_stream", table_name="outbox")
