"""held_news: incidents held back from a destination during its quiet hours (or for
its digest), until a digest lists them

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_news",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.Double(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=True),
    )
    op.create_index("ix_held_news_waiting", "held_news", ["holder", "digest", "held_at"])
    op.create_index("ix_held_news_incident", "held_news", ["incident_id", "target"])


def downgrade() -> None:
    op.drop_index("ix_held_news_incident", table_name="held_news")
    op.drop_index("ix_held_news_waiting", table_name="held_news")
    op.drop_table("held_news")
