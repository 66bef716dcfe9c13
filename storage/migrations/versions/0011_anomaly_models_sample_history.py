"""anomaly_models: each anomaly rule series' learned model, so a restart keeps judging;
sample_history: the last week of each pushed series in minute buckets, for backtests

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
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
    op.create_table(
        "sample_history",
        sa.Column("metric", sa.String(200), primary_key=True),
        sa.Column("series", sa.String(32), primary_key=True),
        sa.Column("block", sa.Integer(), primary_key=True),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_sample_history_block", "sample_history", ["block"])


def downgrade() -> None:
    op.drop_index("ix_sample_history_block", table_name="sample_history")
    op.drop_table("sample_history")
    op.drop_table("anomaly_models")
