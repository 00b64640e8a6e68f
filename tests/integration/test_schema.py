"""The alembic migrations build exactly the schema the code declares, on every backend,
and both backends enforce its foreign keys the same way."""

from __future__ import annotations

import math
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    ForeignKeyConstraint,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from tunetrack.entities import Metric
from tunetrack.errors import StoreError
from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql import models as m
from tunetrack.store.sql import store as store_module
from tunetrack.store.sql.models import metadata
from tunetrack.store.sql.run_rows import RUN_COLUMNS
from tunetrack.store.sql.store import SqlStore

# A revision after the head, for a test: rebuild the runs table as alembic's batch mode does
# on SQLite for most ALTERs (copy into a new table, drop the old one, rename), or add an orphan.
MIGRATION_NEXT = """\
from alembic import op

revision = "next"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    {body}
"""
REBUILD_RUNS = 'with op.batch_alter_table("runs", recreate="always"):\n        pass'
ADD_ORPHAN = "op.execute(\"INSERT INTO params VALUES ('missing-run', 'k', 'v')\")"


@pytest.fixture
def sql_store(db_uri: str, tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(db_uri, default_artifact_root=str(tmp_path))
    try:
        yield store
    finally:
        store.close()


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(sql_engine._MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_schema_head_constant_matches_migrations() -> None:
    assert _head() == sql_engine.SCHEMA_HEAD


def test_the_hot_path_names_every_runs_column_in_order() -> None:
    """create_run inserts and terminate_run reads back RUN_COLUMNS: a column added to the
    table must be added there too."""
    assert tuple(c.name for c in m.runs.c) == RUN_COLUMNS


def _is_metrics_series_fk(change: tuple[object, ...]) -> bool:
    kind, constraint = change[0], change[1]
    return (
        kind == "add_fk"
        and isinstance(constraint, ForeignKeyConstraint)
        and constraint.table.name == "metrics"
        and constraint.referred_table.name == "latest_metrics"
    )


def test_migrated_schema_matches_models(db_uri: str, tmp_path: Path) -> None:
    """The same on SQLite; on PostgreSQL but for metrics.series_id's foreign key, which
    statement triggers replace there (migrations 0009, 0012). (alembic does not compare
    primary keys: metrics.id's, gone on PostgreSQL since 0011, is checked below.)"""
    SqlStore(db_uri, default_artifact_root=str(tmp_path)).close()
    engine = create_engine(db_uri)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        postgresql = conn.dialect.name == "postgresql"
    engine.dispose()
    assert [_is_metrics_series_fk(change) for change in diff] == ([True] if postgresql else [])
    assert version == [sql_engine.SCHEMA_HEAD]


def _metrics_primary_key(engine: Engine) -> list[str]:
    return inspect(engine).get_pk_constraint("metrics")["constrained_columns"]


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(sql_engine._MIGRATIONS))
    with sql_engine.schema_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _upgrade(engine: Engine) -> None:
    with sql_engine.schema_transaction(engine) as conn:
        sql_engine.run_migrations(conn)


def test_metrics_id_is_a_primary_key_on_sqlite_only(sql_store: SqlStore) -> None:
    """SQLite's id is the rowid; PostgreSQL drops the unique index no query uses (0011),
    and a downgrade to 0010 puts it back."""
    engine = sql_store._engine
    if engine.dialect.name == "sqlite":
        assert _metrics_primary_key(engine) == ["id"]
        return
    assert _metrics_primary_key(engine) == []
    _downgrade(engine, "0010")
    assert _metrics_primary_key(engine) == ["id"]
    _upgrade(engine)
    assert _metrics_primary_key(engine) == []


def test_points_keep_their_run_key_and_order_through_0012_down_and_up(
    sql_store: SqlStore,
) -> None:
    """Downgrading below 0012 gives every point its run id and key back; upgrading again
    puts them under series ids: the same points, ties in logged order, NaN as NULL."""
    eid = sql_store.create_experiment("e")
    runs = [sql_store.create_run(eid, start_time=1).info.run_id for _ in range(2)]
    logged = [(r, k, s, 5, v) for r in runs for k in ("a", "b") for s, v in enumerate((3.0, 1.0))]
    logged += [(runs[0], "a", 1, 5, 0.5), (runs[1], "b", 0, 5, math.nan)]  # ties at the end
    sql_store.log_metric_rows(logged)
    expected = {
        (r, k): [
            (s, t, v)
            for rr, kk, s, t, v in sorted(logged, key=lambda p: p[2])
            if (rr, kk) == (r, k)
        ]
        for r in runs
        for k in ("a", "b")
    }
    engine = sql_store._engine
    _downgrade(engine, "0011")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT run_id, key, step, timestamp, value FROM metrics ORDER BY id")
        ).all()
    assert sorted(map(tuple, rows), key=repr) == sorted(
        [(r, k, s, t, None if math.isnan(v) else v) for r, k, s, t, v in logged], key=repr
    )
    _upgrade(engine)
    for (run_id, key), points in expected.items():
        history = [
            (p.step, p.timestamp, p.value) for p in sql_store.get_metric_history(run_id, key)
        ]
        assert repr(history) == repr(points)


def test_0012_gives_points_without_a_latest_row_their_series(db_uri: str, tmp_path: Path) -> None:
    """A (run, key) with points but no latest_metrics row cannot be written, but should an
    old store hold one, the upgrade makes its latest row (the highest step, then timestamp,
    then the later point) instead of dropping its points."""
    engine = sql_engine.make_engine(db_uri)
    run = {c: None for c in RUN_COLUMNS} | {"run_id": "r" * 32, "experiment_id": 1}
    run |= {"status": "FINISHED", "start_time": 1, "lifecycle_stage": "active"}
    run |= {"run_name": "r", "user_id": "u", "artifact_uri": str(tmp_path)}
    experiment = {"experiment_id": 1, "name": "e", "artifact_location": str(tmp_path)}
    experiment |= {"lifecycle_stage": "active", "creation_time": 1, "last_update_time": 1}
    points = [(0, 9, 0.5), (2, 1, 0.25), (2, 1, 0.125), (1, 50, 1.0)]  # step, timestamp, value
    with sql_engine.write_transaction(engine) as conn:
        sql_engine.run_migrations(conn, "0011")
        conn.execute(insert(m.experiments).values(**experiment))
        conn.execute(insert(m.runs).values(**run))
        conn.execute(
            text(
                "INSERT INTO metrics (run_id, key, step, timestamp, value) "
                "VALUES (:r, 'm', :s, :t, :v)"
            ),
            [{"r": run["run_id"], "s": s, "t": t, "v": v} for s, t, v in points],
        )
    engine.dispose()
    store = SqlStore(db_uri, migrate=True)
    try:
        latest = store.get_run(run["run_id"]).data.metrics
        history = store.get_metric_history(run["run_id"], "m")
    finally:
        store.close()
    assert latest == {"m": 0.125}
    assert [(p.step, p.timestamp, p.value) for p in history] == sorted(
        points, key=lambda p: (p[0], p[1])
    )


def test_old_schema_needs_db_upgrade(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path}/old.db"
    SqlStore(uri).close()
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(StoreError, match="tunetrack db upgrade"):
        SqlStore(uri)


def test_the_database_refuses_a_row_whose_parent_is_missing(sql_store: SqlStore) -> None:
    with pytest.raises(IntegrityError), sql_store._engine.begin() as conn:
        conn.execute(insert(m.params).values(run_id="missing", key="k", value="v"))
    assert sql_store.search_experiments()  # the store is usable afterwards


def test_deleting_rows_cascades_to_their_children(sql_store: SqlStore) -> None:
    eid = sql_store.create_experiment("e", tags={"team": "a"})
    parent = sql_store.create_run(eid, start_time=1).info.run_id
    child = sql_store.create_run(
        eid, start_time=2, parent_run_id=parent, params={"p": "1"}, tags={"t": "1"}
    ).info.run_id
    sql_store.log_batch(child, metrics=[Metric("m", 1.0, 0, 0)])
    with sql_store._engine.begin() as conn:
        conn.execute(delete(m.runs).where(m.runs.c.run_id == parent))
    assert sql_store.get_run(child).info.parent_run_id is None  # ON DELETE SET NULL
    with sql_store._engine.begin() as conn:
        conn.execute(delete(m.experiments).where(m.experiments.c.experiment_id == int(eid)))
        tables = (m.experiment_tags, m.runs, m.params, m.tags, m.metrics, m.latest_metrics)
        left = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in tables}
    assert left == dict.fromkeys(left, 0)


def _old_store_and_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """A SQLite store at the current head with one run in it, and a revision "next" running
    ``body`` to upgrade it with; return the run's id."""
    store = SqlStore(f"sqlite:///{tmp_path}/old.db", default_artifact_root=str(tmp_path))
    run_id = store.create_run(store.create_experiment("e"), start_time=1, params={"p": "1"})
    run_id = run_id.info.run_id
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 0)])
    store.close()
    migrations = tmp_path / "migrations"
    shutil.copytree(sql_engine._MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__py*"))
    next_revision = MIGRATION_NEXT.format(head=sql_engine.SCHEMA_HEAD, body=body)
    (migrations / "versions" / "next_test.py").write_text(next_revision)
    monkeypatch.setattr(sql_engine, "_MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_HEAD", "next")
    return run_id


def test_a_migration_that_rebuilds_a_table_keeps_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _old_store_and_migration(tmp_path, monkeypatch, REBUILD_RUNS)
    upgraded = SqlStore(f"sqlite:///{tmp_path}/old.db", migrate=True)
    try:
        assert dict(upgraded.get_run(run_id).data.params) == {"p": "1"}
        assert [p.value for p in upgraded.get_metric_history(run_id, "m")] == [1.0]
        with pytest.raises(IntegrityError), upgraded._engine.begin() as conn:
            conn.execute(insert(m.params).values(run_id="missing", key="k", value="v"))
    finally:
        upgraded.close()


def test_a_migration_that_leaves_an_orphan_row_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_store_and_migration(tmp_path, monkeypatch, ADD_ORPHAN)
    with pytest.raises(StoreError, match="a row of params refers to a missing row of runs"):
        SqlStore(f"sqlite:///{tmp_path}/old.db", migrate=True)
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert revision == sql_engine.SCHEMA_HEAD
        assert conn.execute(text("SELECT count(*) FROM params")).scalar() == 1
    engine.dispose()


def _point_count(conn: Connection, series_id: int) -> int:
    query = select(func.count()).select_from(m.metrics).where(m.metrics.c.series_id == series_id)
    return conn.execute(query).scalar_one()


def _series_id(store: SqlStore, run_id: str, key: str) -> int:
    with store._engine.connect() as conn:
        return conn.execute(select(m.series_of(run_id, key))).scalar_one()


def test_metric_rows_need_their_series_and_go_with_their_run(sql_store: SqlStore) -> None:
    """metrics.series_id is a foreign key on SQLite, statement triggers on PostgreSQL (0012):
    the same refusal, the same cascade from a deleted run through its series."""
    eid = sql_store.create_experiment("e")
    kept, dropped = (sql_store.create_run(eid, start_time=1).info.run_id for _ in range(2))
    sql_store.log_metric_rows([(r, "m", s, 0, 0.5) for r in (kept, dropped) for s in range(3)])
    kept_series, dropped_series = (_series_id(sql_store, r, "m") for r in (kept, dropped))
    missing = kept_series + dropped_series + 1
    rows = [{"series_id": s, "step": 9, "timestamp": 0} for s in (kept_series, missing)]
    with pytest.raises(IntegrityError) as refused, sql_store._engine.begin() as conn:
        conn.execute(insert(m.metrics), rows)
    if sql_store._engine.dialect.name == "postgresql":
        assert f"series {missing}, which does not exist" in str(refused.value)
    with sql_store._engine.begin() as conn:
        assert _point_count(conn, kept_series) == 3  # the whole statement was refused
        conn.execute(delete(m.runs).where(m.runs.c.run_id == dropped))
        assert (_point_count(conn, kept_series), _point_count(conn, dropped_series)) == (3, 0)


def _wait_until_blocked(engine: Engine, pid: int) -> None:
    """Return once PostgreSQL backend ``pid`` waits for a lock (fail after 30 s)."""
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            wait = conn.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if wait == "Lock":
                return
            time.sleep(0.01)
    pytest.fail(f"backend {pid} never waited for a lock")


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["points written", "run deleted"])
def test_points_and_a_concurrent_delete_of_their_run_leave_no_orphan(
    fresh_postgres_uri: str, tmp_path: Path, first: str
) -> None:
    """As with a foreign key, whichever transaction comes first makes the other wait: a delete
    after the points takes them too; points after a delete are refused."""
    store = SqlStore(fresh_postgres_uri, default_artifact_root=str(tmp_path))
    run_id = store.create_run(store.create_experiment("e"), start_time=1).info.run_id
    store.log_metric_rows([(run_id, "m", 0, 0, 1.0)])
    series_id = _series_id(store, run_id, "m")
    write = insert(m.metrics).values(series_id=series_id, step=1, timestamp=0, value=1.0)
    remove = delete(m.runs).where(m.runs.c.run_id == run_id)
    statements = (write, remove) if first == "points written" else (remove, write)
    engine = store._engine
    second_pid: queue.Queue[int] = queue.Queue()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with engine.begin() as conn:
                second_pid.put(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                conn.execute(statements[1])
        except BaseException as exc:
            errors.append(exc)

    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(statements[0])
            thread = threading.Thread(target=second)
            thread.start()
            _wait_until_blocked(engine, second_pid.get(timeout=30))
        thread.join(timeout=30)
        if first == "points written":
            assert errors == []
        else:
            assert [type(e) for e in errors] == [IntegrityError]
            assert "does not exist" in str(errors[0])
        with engine.connect() as conn:
            assert _point_count(conn, series_id) == 0
    finally:
        store.close()
