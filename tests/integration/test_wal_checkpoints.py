"""A SQLite store's bulk metric writer copies the write-ahead log into the database after its
transaction, outside the file's write gate, instead of inside a COMMIT every other writer
waits behind; ``wal_autocheckpoint`` is only the backstop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql.store import SqlStore
from tunetrack.store.sql.wal_checkpoints import AUTOCHECKPOINT_PAGES, WalCheckpoints

EVERY = 1_000  # points between checkpoints in the test
BATCH = 500
BATCHES = 12
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path}/wal.db", default_artifact_root=str(tmp_path))
    try:
        yield store
    finally:
        store.close()


def test_the_metric_writer_checkpoints_every_n_points_outside_the_write_gate(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "_checkpoints", WalCheckpoints(points=EVERY))
    gate = sql_engine._write_gates[store._engine]
    checkpoints: list[int] = []  # the gate's depth in the thread when each one ran
    connect = store._engine.raw_connection

    def raw_connection() -> Any:
        conn = connect()

        def trace(sql: str) -> None:
            if sql == CHECKPOINT:
                checkpoints.append(gate._depth)

        conn.driver_connection.set_trace_callback(trace)
        return conn

    monkeypatch.setattr(store._engine, "raw_connection", raw_connection)
    run_id = store.create_run(store.create_experiment("e"), start_time=1).info.run_id
    for b in range(BATCHES):
        store.log_metric_rows([(run_id, "m", b * BATCH + i, 1, 0.5) for i in range(BATCH)])

    assert checkpoints == [0] * (BATCHES * BATCH // EVERY)
    assert len(store.get_metric_history(run_id, "m")) == BATCHES * BATCH


def test_commits_checkpoint_only_as_a_backstop_and_only_files_count_points(
    store: SqlStore, tmp_path: Path
) -> None:
    with store._engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == AUTOCHECKPOINT_PAGES
    assert isinstance(store._checkpoints, WalCheckpoints)
    memory = SqlStore("sqlite:///:memory:", default_artifact_root=str(tmp_path))
    try:
        assert memory._checkpoints is None
    finally:
        memory.close()
