"""A SQLite store's writers copy the write-ahead log into the database after their turn at
the file's write gate, not inside a COMMIT that every other writer waits behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql.store import SqlStore
from tunetrack.store.sql.wal_checkpoints import AUTOCHECKPOINT_PAGES, WalCheckpoints

PAGES = 40  # a small threshold, so a few batches cross it
BATCHES = 60


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path}/wal.db", default_artifact_root=str(tmp_path))
    try:
        yield store
    finally:
        store.close()


def test_writers_checkpoint_after_their_turn_and_keep_the_log_short(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = str(tmp_path / "wal.db")
    checkpoints = WalCheckpoints(database, pages=PAGES)
    monkeypatch.setitem(sql_engine._wal_checkpoints, store._engine, checkpoints)
    gate = sql_engine._write_gates[store._engine]
    runs: list[tuple[int, int]] = []  # (pages waiting before, after) each checkpoint
    run_checkpoint = checkpoints.after_write

    def after_write(engine: object) -> None:
        assert gate._depth == 0, "a checkpoint ran while its writer held the write gate"
        before = checkpoints.pending_pages()
        run_checkpoint(store._engine)
        if before >= PAGES:
            runs.append((before, checkpoints.pending_pages()))

    monkeypatch.setattr(checkpoints, "after_write", after_write)
    run_id = store.create_run(store.create_experiment("e"), start_time=1).info.run_id
    most_waiting = 0
    for b in range(BATCHES):
        store.log_metric_rows([(run_id, "m", b * 500 + i, 1, 0.5) for i in range(500)])
        most_waiting = max(most_waiting, checkpoints.pending_pages())

    assert len(runs) >= 3
    assert all(after == 0 for _, after in runs)  # nothing else was writing: all copied
    assert most_waiting < 2 * PAGES  # a batch is ~25 pages: one past the threshold at most
    assert len(store.get_metric_history(run_id, "m")) == BATCHES * 500


def test_commits_checkpoint_only_as_a_backstop(store: SqlStore, tmp_path: Path) -> None:
    with store._engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == AUTOCHECKPOINT_PAGES > WalCheckpoints(str(tmp_path / "wal.db"))._pages
    with sqlite3.connect(tmp_path / "plain.db") as plain:  # SQLite's own: no -shm yet
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert WalCheckpoints(str(tmp_path / "plain.db")).pending_pages() == 0
