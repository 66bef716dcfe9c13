"""incidents: priority (P1..P4) and the deploy they followed; proposals: rule changes
waiting for Apply; reports: periodic reports already written; indexes for statistics
and retention

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.add_column(sa.Column("priority", sa.String(2), nullable=False, server_default="P4"))
        table.add_column(sa.Column("deploy_event_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("deploy_note", sa.Text(), nullable=True))
    # Existing incidents get their severity's priority (monitors.incidents.priority.BASE); how far
    # past the threshold they were is not worth recomputing for history.
    op.execute(
        "UPDATE incidents SET priority = CASE severity WHEN 'critical' THEN 'P2' "
        "WHEN 'error' THEN 'P3' ELSE 'P4' END"
    )
    with op.batch_alter_table("incidents") as table:
        table.alter_column("priority", server_default=None)
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"])
    op.create_index("ix_events_received_at", "events", ["received_at"])
    op.create_table(
        "proposals",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("change", sa.JSON(), nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
    )
    op.create_index("ix_proposals_expires_at", "proposals", ["expires_at"])
    op.create_table(
        "reports",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_index("ix_proposals_expires_at", table_name="proposals")
    op.drop_table("proposals")
    op.drop_index("ix_events_received_at", table_name="events")
    op.drop_index("ix_incidents_resolved_at", table_name="incidents")
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    with op.batch_alter_table("incidents") as table:
        table.drop_column("deploy_note")
        table.drop_column("deploy_event_id")
        table.drop_column("priority")
