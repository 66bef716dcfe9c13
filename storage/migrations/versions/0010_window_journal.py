"""window_journal: the sample window's recent buckets, replayed at start-up

A restart used to empty the in-memory window store, so every ingest rule read "no data"
(or a partial window) until a whole window of samples had come in again.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "window_journal",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("written_at", sa.Double(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_window_journal_written_at", "window_journal", ["written_at"])


def downgrade() -> None:
    op.drop_index("ix_window_journal_written_at", table_name="window_journal")
    op.drop_table("window_journal")
