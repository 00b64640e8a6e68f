"""Client caches belong to one store; closing a client releases its engine and writer."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tunetrack.errors import InvalidInput, NotFound
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.client import Client


def writer_threads() -> int:
    return sum(t.name == "tunetrack-writer" and t.is_alive() for t in threading.enumerate())


def test_the_same_run_id_in_two_stores_keeps_artifacts_apart(tmp_path: Path) -> None:
    for name in "ab":
        (tmp_path / name).mkdir()
    stores = [SqlStore(f"sqlite:///{tmp_path}/{name}/t.db") for name in "ab"]
    clients = [Client(store=store) for store in stores]
    for store in stores:
        store.create_run("0", start_time=1, run_id="shared")
    for name, client in zip("ab", clients, strict=True):
        client.log_text("shared", f"from {name}", "who.txt")
    texts = [
        (tmp_path / name / "tunetrack-artifacts" / "0" / "shared" / "who.txt").read_text()
        for name in "ab"
    ]
    assert texts == ["from a", "from b"]
    for client in clients:
        client.close()


def test_a_run_known_in_one_store_is_checked_again_in_another(tmp_path: Path) -> None:
    first = Client(store=SqlStore(f"sqlite:///{tmp_path}/a.db"))
    second = Client(store=SqlStore(f"sqlite:///{tmp_path}/b.db"))
    run_id = first.create_run("0").info.run_id
    first.log_metric(run_id, "m", 1.0)
    with pytest.raises(NotFound):
        second.log_metric(run_id, "m", 1.0)  # at once, not at some later flush
    first.close()
    second.close()


def test_closing_a_client_writes_its_points_and_releases_engine_and_writer(
    tmp_path: Path,
) -> None:
    db = tmp_path / "closing.db"
    before = writer_threads()
    with Client(f"sqlite:///{db}") as client:
        run_id = client.create_run("0").info.run_id
        for i in range(100):
            client.log_metric(run_id, "m", float(i), step=i)
        assert writer_threads() == before + 1
        store = client.store
    assert writer_threads() == before
    assert store._engine.pool.checkedin() == 0  # no pooled connection left open
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (100,)
    with pytest.raises(InvalidInput, match="closed"):
        client.log_metric(run_id, "m", 1.0)


def test_a_store_stays_open_while_another_client_uses_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.db"
    keeper = Client(uri)
    run_id = keeper.create_run("0").info.run_id
    keeper.log_metric(run_id, "m", 1.0)
    with Client(uri) as other:
        assert other.store is keeper.store
    keeper.log_metric(run_id, "m", 2.0, step=1)  # the shared writer is still running
    assert [m.value for m in keeper.get_metric_history(run_id, "m")] == [1.0, 2.0]
    keeper.close()
    assert Client(uri).store is not keeper.store  # the last one out closed it
