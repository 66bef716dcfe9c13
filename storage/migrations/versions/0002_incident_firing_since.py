"""incidents.firing_since: when the current firing episode began

A reopened incident keeps its id and opened_at; reminders and escalate_after count from
this instead, so time spent resolved is not counted as time unacknowledged.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("firing_since", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("firing_since")
