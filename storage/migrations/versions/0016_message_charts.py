"""messages.chart_at: when a chart of the incident was attached to its message

Set once the platform accepted the chart, so later edits of the message keep showing it
(Discord redraws the embed with ``attachment://chart.png``) and no chart is attached twice.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("chart_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("chart_at")
