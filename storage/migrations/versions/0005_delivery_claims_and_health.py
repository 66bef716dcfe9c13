"""outbox claims owned by a dispatcher; the health of each delivery target

``outbox.claimed_by`` names the dispatcher process holding a row; it keeps its claims
alive with a heartbeat, so a dead process's rows are taken over within seconds.
``target_health`` counts each target's consecutive failures and remembers the
"delivery failing" incident it opened.

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
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
    op.create_index("ix_outbox_claimed_by", "outbox", ["claimed_by"])
    op.create_table(
        "target_health",
        sa.Column("target", sa.String(length=200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("target_health")
    op.drop_index("ix_outbox_claimed_by", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
