"""A tracking server keeps its PostgreSQL connections: concurrent clients reuse them instead of
making the server open a new backend for a request (that costs more than a 500-point batch)."""

from __future__ import annotations

import functools
import threading
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tunetrack.store.rest import RestStore
from tunetrack.store.sql.engine import POOL_SIZE

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import Race, StartServer

pytestmark = pytest.mark.postgres

T0 = 1_700_000_000_000
CLIENTS = 12  # more than SQLAlchemy's default pool keeps (5), fewer than ours
BATCHES = 15
POINTS = 200


def _send_batches(race: Race, store: RestStore, run_ids: list[str], first_step: int) -> None:
    """Every run gets BATCHES metric batches from a thread of its own, all at once."""

    def client(run_id: str) -> None:
        for b in range(BATCHES):
            step = first_step + b * POINTS
            store.log_metric_rows(
                [(run_id, "loss", s, T0 + s, 1.0 / (1 + s)) for s in range(step, step + POINTS)]
            )

    assert race(*(functools.partial(client, run_id) for run_id in run_ids)) == [None] * len(run_ids)


def _backends(conn: sa.Connection, database: str) -> set[tuple[int, datetime]]:
    rows = conn.execute(
        sa.text(
            "SELECT pid, backend_start FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"
        ),
        {"db": database},
    )
    return {(pid, start) for pid, start in rows}


def test_concurrent_clients_reuse_the_servers_database_connections(
    tracking_server: StartServer, fresh_postgres_uri: str, race: Race
) -> None:
    server = tracking_server("--backend-store-uri", fresh_postgres_uri, "--workers", "1")
    store = RestStore(server.url)
    experiment_id = store.create_experiment("connections")
    run_ids = [
        store.create_run(experiment_id, start_time=T0, run_name=f"c{i}").info.run_id
        for i in range(CLIENTS)
    ]
    _send_batches(race, store, run_ids, first_step=0)  # the server opens what it needs

    database = sa.make_url(fresh_postgres_uri).database
    assert database is not None
    engine = sa.create_engine(fresh_postgres_uri, isolation_level="AUTOCOMMIT")
    seen: set[tuple[int, datetime]] = set()
    done = threading.Event()
    try:
        with engine.connect() as conn:
            warm = _backends(conn, database)

            def watch() -> None:
                while not done.wait(0.005):
                    seen.update(_backends(conn, database))

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                _send_batches(race, store, run_ids, first_step=BATCHES * POINTS)
            finally:
                done.set()
                watcher.join()
    finally:
        engine.dispose()

    opened = seen - warm
    assert not opened, (
        f"the server opened {len(opened)} new database connections for a second round of "
        f"the same load (it kept {len(warm)} from the first)"
    )
    assert 0 < len(warm) <= 2 * POOL_SIZE
    stored = store.get_metric_history(run_ids[0], "loss")
    assert len(stored) == 2 * BATCHES * POINTS
