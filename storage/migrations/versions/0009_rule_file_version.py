"""rules: remember which version of the file's rule a saved override was saved against

At start-up an override whose file rule has changed since is reported to admins, so a
chat or API change does not quietly fork a rule kept in git. Rows saved before this
column existed have no version: they are reported as of unknown version.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.add_column(sa.Column("file_version", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.drop_column("file_version")
