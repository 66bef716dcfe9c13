"""subscriptions: people's own subscriptions to incidents (``/notify me``), delivered as
direct messages or mail

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_subscriptions_rule", "subscriptions", ["rule"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_rule", table_name="subscriptions")
    op.drop_table("subscriptions")
