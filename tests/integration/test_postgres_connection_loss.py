"""PostgreSQL sessions ended under the store (``pg_terminate_backend``, as an admin or a
server restart does): the store gets new connections, and every write lands exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import tunetrack
from stored_points import RUN_POINTS
from tunetrack.entities import Metric, RunStatus
from tunetrack.store.sql.store import SqlStore
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

pytestmark = pytest.mark.postgres

POINTS = 15  # metric points each trial logs


@pytest.fixture
def admin(fresh_postgres_uri: str) -> Iterator[sa.Engine]:
    """A connection outside the store, to end the store's sessions from."""
    engine = sa.create_engine(fresh_postgres_uri, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def end_sessions(admin: sa.Engine, pids: list[int] | None = None) -> int:
    """End the given backends, or every other session on the database; how many ended."""
    with admin.connect() as conn:
        if pids is None:
            query = (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return len(conn.exec_driver_sql(query).all())
        for pid in pids:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
        return len(pids)


def end_after_next_begin(store: SqlStore, admin: sa.Engine) -> list[int]:
    """Once: when the store's next transaction has begun, or its next connection in
    autocommit (a metric batch's one statement) is taken from the pool, end its session (the
    statements that follow meet a dead connection). Returns the ended backends' pids."""
    ended: list[int] = []

    def end(dbapi_conn: Any) -> None:
        if not ended:
            ended.append(dbapi_conn.info.backend_pid)
            end_sessions(admin, ended)

    def on_begin(conn: sa.Connection) -> None:
        end(conn.connection.driver_connection)

    def on_options(conn: sa.Connection, options: dict[str, Any]) -> None:
        if options.get("isolation_level") == "AUTOCOMMIT":
            end(conn.connection.driver_connection)

    sa.event.listen(store.engine, "begin", on_begin)
    sa.event.listen(store.engine, "set_connection_execution_options", on_options)
    return ended


def count(admin: sa.Engine, sql: str, *args: Any) -> int:
    with admin.connect() as conn:
        return int(conn.exec_driver_sql(sql, args).scalar_one())


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda store, exp, parent: (
                store.create_run(
                    exp, start_time=1, parent_run_id=parent, tags={"t": "1"}, params={"p": "2"}
                ).info.run_id
            ),
            id="create_run",
        ),
        pytest.param(
            lambda store, exp, parent: (
                store.terminate_run(
                    parent, status=RunStatus.FINISHED, end_time=9, metrics=[Metric("m", 1.0, 5, 0)]
                ).run_id
            ),
            id="terminate_run",
        ),
        pytest.param(
            lambda store, exp, parent: store.log_metric_rows([(parent, "m", 5, 0, 1.0)]) or parent,
            id="log_metric_rows",
        ),
    ],
)
def test_a_session_ended_mid_transaction_is_replaced_and_the_write_lands_once(
    fresh_postgres_uri: str,
    admin: sa.Engine,
    tmp_path: Path,
    write: Callable[[SqlStore, str, str], str],
) -> None:
    store = SqlStore(fresh_postgres_uri, default_artifact_root=str(tmp_path))
    exp = store.create_experiment("loss")
    parent = store.create_run(exp, start_time=0).info.run_id
    ended = end_after_next_begin(store, admin)
    try:
        run_id = write(store, exp, parent)
    finally:
        store.close()
    assert len(ended) == 1  # the session really was ended under the write
    assert count(admin, "SELECT count(*) FROM runs") == (2 if run_id != parent else 1)
    assert count(admin, f"SELECT count(*) FROM {RUN_POINTS} WHERE l.run_id = %s", run_id) == (
        0 if run_id != parent else 1
    )
    if run_id != parent:
        assert count(admin, "SELECT count(*) FROM tags WHERE run_id = %s", run_id) >= 1
        assert count(admin, "SELECT count(*) FROM params WHERE run_id = %s", run_id) == 1


def test_a_sweep_goes_on_when_its_database_sessions_are_ended(
    fresh_postgres_uri: str, admin: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trial 2 ends every session of the sweep's database (the orchestrator's, the metric
    writer's) after flushing its points: later trials, the summary and the counts are whole."""
    monkeypatch.chdir(tmp_path)
    ended: list[int] = []

    def objective(params: dict[str, Any], trial: Any) -> float:
        for step in range(POINTS):
            tunetrack.log_metric("loss_curve", params["x"] * step, step=step)
        if trial.number == 2:
            tunetrack.flush()
            ended.append(end_sessions(admin))
        return params["x"] ** 2

    result = tunetrack.sweep.run(
        objective,
        parameters={"x": {"min": -1.0, "max": 1.0}},
        metric={"name": "loss", "goal": "minimize"},
        method="random",
        budget={"trials": 6},
        seed=3,
        tracking_uri=fresh_postgres_uri,
        progress=False,
    )
    assert len(ended) == 1  # trial 2 ran once
    assert ended[0] >= 1  # at least the store's own session was ended
    assert result.counts["finished"] == 6
    client = Client(fresh_postgres_uri)
    try:
        trials = trial_runs(client, client.get_run(result.sweep_id))
        assert [t.info.status for t in trials] == [RunStatus.FINISHED] * 6
        for t in trials:
            history = client.get_metric_history(t.info.run_id, "loss_curve")
            assert [m.step for m in history] == list(range(POINTS))
        assert (
            count(admin, f"SELECT count(*) FROM {RUN_POINTS} WHERE l.key = 'loss_curve'")
            == 6 * POINTS
        )
        assert client.get_run(result.sweep_id).data.metrics["trials_finished"] == 6
    finally:
        client.close()
