"""Points name their series: ``metrics(id, series_id, step, timestamp, value)``.

Every point carried its run id (32 characters) and key on the table and again in
``ix_metrics_history``. They now live once per series, in ``latest_metrics``, whose rows
get a ``series_id`` (the primary key; ``(run_id, key)`` stays unique), and each point
names its series by that number. On PostgreSQL a 500-point batch writes 44% less WAL (237
instead of 423 bytes a point) and costs the database about 30% less CPU.

Integrity is kept as before: a point needs its series, and deleting a run deletes its
series and their points. SQLite keeps real foreign keys. On PostgreSQL statement triggers
check the points' series once per statement (as 0009 did their runs) and delete the points
of deleted series; the series keep their foreign key to ``runs`` (a few rows a batch).

Both tables are rebuilt with their data (the points copied under their series ids), so an
upgrade takes about as long as copying the store's points once.

Revision ID: 0012
Revises: 0011
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NUMBERS = ("step", "timestamp", "value")

# A (run, key) with points but no latest row cannot arise (both are written in one
# transaction); should an old store hold one, it gets its latest row, so no point is lost.
_MISSING_LATEST = """
INSERT INTO {latest} (run_id, key, experiment_id, step, timestamp, value)
SELECT p.run_id, p.key, r.experiment_id, p.step, p.timestamp, p.value
FROM metrics p JOIN runs r ON r.run_id = p.run_id
WHERE NOT EXISTS (SELECT 1 FROM {latest} l WHERE l.run_id = p.run_id AND l.key = p.key)
  AND NOT EXISTS (
    SELECT 1 FROM metrics q WHERE q.run_id = p.run_id AND q.key = p.key
      AND (q.step > p.step OR (q.step = p.step AND (q.timestamp > p.timestamp
           OR (q.timestamp = p.timestamp AND q.id > p.id)))))
"""

_CHECK_SERIES = """
CREATE FUNCTION tunetrack_metrics_need_series() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT w.series_id INTO missing
      FROM (SELECT DISTINCT series_id FROM written) AS w
     WHERE NOT EXISTS (
        SELECT 1 FROM latest_metrics l WHERE l.series_id = w.series_id FOR KEY SHARE)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'metrics rows refer to series %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation', TABLE = 'metrics';
    END IF;
    RETURN NULL;
END
$$
"""

_DROP_POINTS = """
CREATE FUNCTION tunetrack_series_drop_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM metrics WHERE series_id IN (SELECT series_id FROM removed);
    RETURN NULL;
END
$$
"""

# (name, table, event, transition table, function)
_TRIGGERS = [
    ("metrics_need_series_on_insert", "metrics", "INSERT", "NEW TABLE AS written",
     "tunetrack_metrics_need_series"),
    ("metrics_need_series_on_update", "metrics", "UPDATE", "NEW TABLE AS written",
     "tunetrack_metrics_need_series"),
    ("series_drop_points", "latest_metrics", "DELETE", "OLD TABLE AS removed",
     "tunetrack_series_drop_points"),
]  # fmt: skip


def _revision_0009() -> ModuleType:
    """Migration 0009 (its triggers, dropped here and put back by the downgrade)."""
    path = Path(__file__).with_name("0009_metrics_run_check_per_statement.py")
    spec = importlib.util.spec_from_file_location("tunetrack_migration_0009", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_triggers(functions: Sequence[str], triggers: Sequence[tuple[str, ...]]) -> None:
    for function in functions:
        op.execute(function)
    for name, table, event, transition, function in triggers:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def _drop_triggers(triggers: Sequence[tuple[str, ...]]) -> None:
    for name, table, *_ in triggers:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in sorted({t[-1] for t in triggers}):
        op.execute(f"DROP FUNCTION {function}()")


def _number_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
    ]


def _run_column() -> sa.Column[Any]:
    return sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
    )


def _new_points_table(postgresql: bool, by_series: bool) -> None:
    """An empty ``metrics``: points under a series id (upgrade) or a run id and key
    (downgrade). On PostgreSQL id has no index (0011) and triggers keep the reference."""
    if postgresql:
        owner = "series_id BIGINT" if by_series else "run_id VARCHAR(32) NOT NULL, key VARCHAR(250)"
        op.execute(
            f"CREATE TABLE metrics (id BIGSERIAL NOT NULL, {owner} NOT NULL, step BIGINT NOT "
            'NULL, "timestamp" BIGINT NOT NULL, value DOUBLE PRECISION)'
        )
        return
    owner_columns = (
        [
            sa.Column("series_id", _BIG_ID, nullable=False),
            sa.ForeignKeyConstraint(
                ["series_id"], ["latest_metrics.series_id"], ondelete="CASCADE"
            ),
        ]
        if by_series
        else [_run_column(), sa.Column("key", sa.String(250), nullable=False)]
    )
    op.create_table(
        "metrics",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        *owner_columns,
        *_number_columns(),
    )


def _copy_points(columns: str, select: str) -> None:
    """Fill the new ``metrics`` and, on PostgreSQL, move its id sequence past the copied
    ids (they keep their order)."""
    op.execute(f"INSERT INTO metrics ({columns}) {select}")
    if _postgresql():
        op.execute(
            "SELECT setval(pg_get_serial_sequence('metrics', 'id'), "
            "(SELECT COALESCE(MAX(id), 0) + 1 FROM metrics), false)"
        )


def _set_aside_points(name: str) -> None:
    """Rename ``metrics`` (and its id sequence and index) out of the new table's way."""
    op.rename_table("metrics", name)
    op.drop_index("ix_metrics_history", table_name=name)
    if _postgresql():
        op.execute(f"ALTER SEQUENCE metrics_id_seq RENAME TO {name}_id_seq")


def upgrade() -> None:
    postgresql = _postgresql()
    if postgresql:
        _drop_triggers(_revision_0009()._TRIGGERS)
        op.execute(_MISSING_LATEST.format(latest="latest_metrics"))
        op.execute("ALTER TABLE latest_metrics ADD COLUMN series_id BIGSERIAL")
        op.drop_constraint("latest_metrics_pkey", "latest_metrics", type_="primary")
        op.create_primary_key("latest_metrics_pkey", "latest_metrics", ["series_id"])
        op.create_unique_constraint(
            "ux_latest_metrics_run_key", "latest_metrics", ["run_id", "key"]
        )
    else:
        op.create_table(
            "latest_metrics_0012",
            sa.Column("series_id", _BIG_ID, primary_key=True, autoincrement=True),
            _run_column(),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("experiment_id", _BIG_ID, nullable=False),
            *_number_columns(),
            sa.UniqueConstraint("run_id", "key", name="ux_latest_metrics_run_key"),
        )
        op.execute(
            "INSERT INTO latest_metrics_0012 (run_id, key, experiment_id, step, timestamp, "
            "value) SELECT run_id, key, experiment_id, step, timestamp, value "
            "FROM latest_metrics ORDER BY run_id, key"
        )
        op.execute(_MISSING_LATEST.format(latest="latest_metrics_0012"))
        op.drop_table("latest_metrics")
        op.rename_table("latest_metrics_0012", "latest_metrics")
        op.create_index(
            "ix_latest_metrics_exp_key_value_run",
            "latest_metrics",
            ["experiment_id", "key", "value", "run_id"],
        )
    _set_aside_points("metrics_0011")
    _new_points_table(postgresql, by_series=True)
    _copy_points(
        "id, series_id, step, timestamp, value",
        "SELECT p.id, l.series_id, p.step, p.timestamp, p.value FROM metrics_0011 p "
        "JOIN latest_metrics l ON l.run_id = p.run_id AND l.key = p.key",
    )
    op.drop_table("metrics_0011")
    op.create_index("ix_metrics_history", "metrics", ["series_id", *_NUMBERS])
    if postgresql:
        _create_triggers([_CHECK_SERIES, _DROP_POINTS], _TRIGGERS)


def downgrade() -> None:
    postgresql = _postgresql()
    if postgresql:
        _drop_triggers(_TRIGGERS)
    _set_aside_points("metrics_0012")
    _new_points_table(postgresql, by_series=False)
    _copy_points(
        "id, run_id, key, step, timestamp, value",
        "SELECT p.id, l.run_id, l.key, p.step, p.timestamp, p.value FROM metrics_0012 p "
        "JOIN latest_metrics l ON l.series_id = p.series_id",
    )
    op.drop_table("metrics_0012")
    op.create_index("ix_metrics_history", "metrics", ["run_id", "key", *_NUMBERS])
    if postgresql:
        op.drop_constraint("ux_latest_metrics_run_key", "latest_metrics", type_="unique")
        op.drop_constraint("latest_metrics_pkey", "latest_metrics", type_="primary")
        op.create_primary_key("latest_metrics_pkey", "latest_metrics", ["run_id", "key"])
        op.drop_column("latest_metrics", "series_id")
        old = _revision_0009()
        _create_triggers([old._CHECK_RUNS, old._DROP_METRICS], old._TRIGGERS)
        return
    with op.batch_alter_table("latest_metrics", recreate="always") as batch:
        batch.drop_constraint("ux_latest_metrics_run_key", type_="unique")
        batch.drop_column("series_id")
        batch.create_primary_key("latest_metrics_pkey", ["run_id", "key"])
