"""Initial tracking schema: experiments, runs, params, tags, metrics, latest_metrics.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RUN_ID = sa.String(32)
KEY = sa.String(250)
DOUBLE = sa.Float(precision=53)


def _run_fk() -> sa.Column[str]:
    return sa.Column(
        "run_id", RUN_ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("artifact_location", sa.String(1000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            BIG_ID,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", RUN_ID, primary_key=True),
        sa.Column(
            "experiment_id",
            BIG_ID,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run_name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("artifact_uri", sa.String(1000), nullable=False),
        sa.Column("parent_run_id", RUN_ID, nullable=True),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.run_id"], ondelete="SET NULL"),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent", "runs", ["parent_run_id"])
    for name in ("params", "tags"):
        op.create_table(
            name,
            _run_fk(),
            sa.Column("key", KEY, nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run_id", "key"),
        )
        op.create_index(f"ix_{name}_key", name, ["key"])
    op.create_table(
        "metrics",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        _run_fk(),
        sa.Column("key", KEY, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", DOUBLE, nullable=True),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        _run_fk(),
        sa.Column("key", KEY, nullable=False),
        sa.Column("experiment_id", BIG_ID, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", DOUBLE, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_index(
        "ix_latest_metrics_exp_key_value", "latest_metrics", ["experiment_id", "key", "value"]
    )


def downgrade() -> None:
    for table in ("latest_metrics", "metrics", "tags", "params", "runs", "experiment_tags"):
        op.drop_table(table)
    op.drop_table("experiments")
