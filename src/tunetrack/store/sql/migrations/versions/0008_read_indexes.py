"""Indexes the UI's big reads walk without touching the tables (issue 12):

* ``ix_metrics_history`` (run_id, key, step, timestamp, value) replaces
  ``ix_metrics_run_key_step``: a metric's history, its ranges and its downsampled chart are
  read from the index alone, already in (step, timestamp) order;
* ``ix_latest_metrics_exp_key_value_run`` (experiment_id, key, value, run_id) replaces
  ``ix_latest_metrics_exp_key_value``: a metric filter's matching runs come from the index
  alone, and a page sorted by a metric walks it in value order;
* ``ix_runs_parent_start`` (parent_run_id, start_time) replaces ``ix_runs_parent``: a run's
  children are found without scanning its experiment's runs.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (table, old index, old columns, new index, new columns)
_CHANGES = [
    ("metrics", "ix_metrics_run_key_step", ["run_id", "key", "step"],
     "ix_metrics_history", ["run_id", "key", "step", "timestamp", "value"]),
    ("latest_metrics", "ix_latest_metrics_exp_key_value", ["experiment_id", "key", "value"],
     "ix_latest_metrics_exp_key_value_run", ["experiment_id", "key", "value", "run_id"]),
    ("runs", "ix_runs_parent", ["parent_run_id"],
     "ix_runs_parent_start", ["parent_run_id", "start_time"]),
]  # fmt: skip


def upgrade() -> None:
    for table, old, _, new, columns in _CHANGES:
        op.create_index(new, table, columns)
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, columns, new, _ in _CHANGES:
        op.create_index(old, table, columns)
        op.drop_index(new, table_name=table)
