"""deleted_time on experiments and runs: when each was soft-deleted, so ``tunetrack gc
--older-than`` can tell how long it has been in the bin (NULL while it is active).

Rows deleted before this revision get a time that is never earlier than their deletion: an
experiment its ``last_update_time`` (set when it was deleted), a run of a deleted experiment
that experiment's time, any other deleted run the time of this upgrade.

Revision ID: 0007
Revises: 0006
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("experiments", "runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_time", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE experiments SET deleted_time = last_update_time WHERE lifecycle_stage = 'deleted'"
    )
    op.execute(
        "UPDATE runs SET deleted_time = (SELECT e.deleted_time FROM experiments e "
        "WHERE e.experiment_id = runs.experiment_id) WHERE lifecycle_stage = 'deleted'"
    )
    op.execute(
        sa.text(
            "UPDATE runs SET deleted_time = :now "
            "WHERE lifecycle_stage = 'deleted' AND deleted_time IS NULL"
        ).bindparams(now=int(time.time() * 1000))
    )


def downgrade() -> None:
    for table in ("runs", "experiments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_time")
