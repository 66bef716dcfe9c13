"""series_states.counted_at: when the last reading of a run counted

Pushed samples are evaluated as they arrive; readings that count toward opening or
resolving stay at least an interval apart (monitors.incidents.machine.Policy.spacing).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("series_states") as batch:
        batch.add_column(sa.Column("counted_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("series_states") as batch:
        batch.drop_column("counted_at")
