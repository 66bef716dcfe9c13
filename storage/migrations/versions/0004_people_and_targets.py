"""incidents: who acknowledged and resolved, by platform user id; outbox targets

``acknowledged_by`` / ``resolved_by`` hold display names; the new ``*_ref`` columns say
who that was on their platform (``slack:U123``), so a card can mention them. Outbox rows
and message references now name a target (``slack:C0ALERTS``, ``console``) instead of a
bare channel label: the labels of earlier versions were all delivered to the console.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_by_ref", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("resolved_by_ref", sa.String(length=200), nullable=True))
    # One console message per incident: drop the references of its other labels first.
    op.execute(
        "DELETE FROM messages WHERE channel NOT LIKE '%:%' AND channel <> ("
        "SELECT MIN(m.channel) FROM messages m "
        "WHERE m.incident_id = messages.incident_id AND m.channel NOT LIKE '%:%')"
    )
    for table in ("outbox", "messages"):
        op.execute(f"UPDATE {table} SET channel = 'console' WHERE channel NOT LIKE '%:%'")


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("resolved_by_ref")
        batch.drop_column("acknowledged_by_ref")
