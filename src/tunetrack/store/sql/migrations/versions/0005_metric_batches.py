"""metric_batches: the (writer_id, seq) ids of metric batches already written, so a batch a
client sends again (a retry after a lost response) is recognised and skipped.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_batches",
        sa.Column("writer_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("writer_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("metric_batches")
