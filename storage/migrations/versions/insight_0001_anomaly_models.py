"""anomaly_models: each anomaly rule series' learned model, so a restart keeps judging

Revision ID: insight_0001
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "insight_0001"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomaly_models",
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("series_key", sa.String(1000), primary_key=True),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("anomaly_models")
