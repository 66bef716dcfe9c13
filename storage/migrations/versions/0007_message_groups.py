"""message_groups: incidents sharing one platform message; the capped notices

Incidents that open on a target within a short wait of each other share one message
(storm grouping); a rule past its max_per_hour gets one "N more not posted" message per
target and hour. messages.group_id says which group shows an incident.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_groups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("message_ref", sa.String(length=400), nullable=True),
    )
    op.create_index("ix_message_groups_target", "message_groups", ["target", "opened_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("group_id")
    op.drop_index("ix_message_groups_target", table_name="message_groups")
    op.drop_table("message_groups")
