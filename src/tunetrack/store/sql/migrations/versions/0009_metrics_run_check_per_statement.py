"""PostgreSQL: the metrics table's link to its run is checked once per statement.

A foreign key checks each inserted row on its own (a trigger call and a lookup of ``runs``
per point): 1.3 of the 3 ms PostgreSQL spends on a 500-point batch. It is replaced by
statement triggers that keep its two guarantees:

* rows written into ``metrics`` (INSERT or UPDATE) must name runs that exist: the distinct
  run ids of the statement are looked up once, key-share locked as a foreign key locks them
  (a concurrent delete of such a run waits for the writer), and a missing one raises
  ``foreign_key_violation`` naming the run;
* deleting runs deletes their metrics, as ON DELETE CASCADE did.

Run ids never change (no statement updates ``runs.run_id``), so the foreign key's refusal of
such an update is not kept. SQLite keeps the foreign key: its per-row check is a cheap index
probe inside the insert.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FK = "metrics_run_id_fkey"

_CHECK_RUNS = """
CREATE FUNCTION tunetrack_metrics_need_runs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT w.run_id INTO missing
      FROM (SELECT DISTINCT run_id FROM written) AS w
     WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = w.run_id FOR KEY SHARE)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'metrics rows refer to run %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation', TABLE = 'metrics';
    END IF;
    RETURN NULL;
END
$$
"""

_DROP_METRICS = """
CREATE FUNCTION tunetrack_runs_drop_metrics() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM metrics WHERE run_id IN (SELECT run_id FROM removed);
    RETURN NULL;
END
$$
"""

# (name, table, event, transition table, function)
_TRIGGERS = [
    ("metrics_need_runs_on_insert", "metrics", "INSERT", "NEW TABLE AS written",
     "tunetrack_metrics_need_runs"),
    ("metrics_need_runs_on_update", "metrics", "UPDATE", "NEW TABLE AS written",
     "tunetrack_metrics_need_runs"),
    ("runs_drop_metrics", "runs", "DELETE", "OLD TABLE AS removed",
     "tunetrack_runs_drop_metrics"),
]  # fmt: skip


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    op.drop_constraint(_FK, "metrics", type_="foreignkey")
    op.execute(_CHECK_RUNS)
    op.execute(_DROP_METRICS)
    for name, table, event, transition, function in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    if not _postgresql():
        return
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION tunetrack_runs_drop_metrics()")
    op.execute("DROP FUNCTION tunetrack_metrics_need_runs()")
    op.create_foreign_key(_FK, "metrics", "runs", ["run_id"], ["run_id"], ondelete="CASCADE")
