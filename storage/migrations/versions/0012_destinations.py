"""destinations saved through the API

Email and webhook destinations (and chat ones) created with ``POST /v1/destinations``;
their secrets are stored encrypted in ``sealed``.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("destinations")
