"""Metric batches through a tracking server are written exactly once: when the answer to a
batch is lost, when the server is killed and restarted mid-stream, and when the server
stays out of reach for longer than RestStore retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from answer_proxy import LosingPipe
from rest_servers import RestServers, stop_server
from tunetrack.errors import StoreError
from tunetrack.store.rest import RestStore
from tunetrack.store.sql.models import metric_batches
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.writer import MetricWriter

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer

T0 = 1_700_000_000_000
LOG_ROWS = b"POST /api/metrics/log-rows "


class AnswerEater(LosingPipe):
    """A proxy in front of a server on ``port`` that, while :attr:`eating` is set, swallows
    the answer to each metric batch and drops the connection (the server has written the
    batch; the client never hears so)."""

    def __init__(self, port: int) -> None:
        self.eating = True
        self.eaten = 0
        super().__init__(("127.0.0.1", port))

    def request(self, data: bytes, state: dict[str, Any]) -> None:
        if data.startswith(b"POST "):
            state["batch"] = data.startswith(LOG_ROWS)

    def lose(self, data: bytes, state: dict[str, Any]) -> bool:
        if state.get("batch") and self.eating:
            self.eaten += 1
            return True
        return False


@pytest.fixture
def server_port(rest_servers: RestServers, tmp_path: Path) -> Iterator[int]:
    """The port of a fresh server from the store suite's forker."""
    url, pid = rest_servers.start(tmp_path / "tunetrack.db", tmp_path / "artifacts")
    try:
        yield int(url.rsplit(":", 1)[1])
    finally:
        stop_server(pid)


def _run(store: RestStore) -> str:
    experiment_id = store.create_experiment("exactly-once")
    return store.create_run(experiment_id, start_time=T0).info.run_id


def _steps(store: RestStore, run_id: str, key: str = "m") -> list[int]:
    return [m.step for m in store.get_metric_history(run_id, key)]


def test_a_batch_whose_answer_was_lost_is_stored_once(server_port: int) -> None:
    proxy = AnswerEater(server_port)
    store = RestStore(proxy.url, retry_for=30)
    run_id = _run(store)
    rows = [(run_id, "m", step, T0 + step, float(step)) for step in range(5)]

    def heal() -> None:  # the first answers are lost; the retries get theirs
        while proxy.eaten < 2:
            time.sleep(0.01)
        proxy.eating = False

    healer = threading.Thread(target=heal)
    healer.start()
    store.log_metric_rows(rows)  # sent, written, answer lost, sent again (same id): skipped
    healer.join()
    assert proxy.eaten >= 2
    assert _steps(store, run_id) == [0, 1, 2, 3, 4]
    store.close()
    proxy.close()


def test_points_whose_fate_stayed_unknown_are_sent_again_under_their_first_batch_id(
    server_port: int,
) -> None:
    proxy = AnswerEater(server_port)
    store = RestStore(proxy.url, retry_for=0.3)
    run_id = _run(store)
    first = [(run_id, "m", step, T0 + step, float(step)) for step in range(3)]
    with pytest.raises(StoreError, match="no answer"):
        store.log_metric_rows(first)  # written by the server; RestStore never learnt it
    proxy.eating = False
    # the batched writer sends kept points again at the front of its next batch
    store.log_metric_rows([*first, (run_id, "m", 3, T0 + 3, 3.0)])
    assert _steps(store, run_id) == [0, 1, 2, 3]
    store.close()
    proxy.close()


def test_the_server_keeps_only_the_batch_ids_a_writer_may_still_send(
    server_port: int, tmp_path: Path
) -> None:
    store = RestStore(f"http://127.0.0.1:{server_port}")
    run_id = _run(store)
    for step in range(30):
        store.log_metric_rows([(run_id, "m", step, T0 + step, float(step))])
    database = SqlStore(f"sqlite:///{tmp_path}/tunetrack.db")
    with database._engine.connect() as conn:
        ledger = conn.execute(select(metric_batches.c.writer_id, metric_batches.c.seq)).all()
    database.close()
    assert ledger == [(store._writer_id, 30)]  # the newest: its answer might have been lost
    assert _steps(store, run_id) == list(range(30))
    store.close()


def test_a_replayed_batch_id_is_skipped_after_the_server_restarts(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    store = RestStore(server.url)
    run_id = _run(store)
    rows = [(run_id, "m", 0, T0, 1.0), (run_id, "m", 1, T0 + 1, 2.0)]
    store.log_metric_rows(rows, batch_id=("writer-1", 1))
    server.kill()
    tracking_server(port=server.port)  # the same store, a new process
    store.log_metric_rows(rows, batch_id=("writer-1", 1))
    assert _steps(store, run_id) == [0, 1]
    store.close()


def test_writer_loses_and_doubles_nothing_when_the_server_is_killed_and_restarted_mid_stream(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    store = RestStore(server.url, retry_for=120)
    runs = _two_runs(store)
    writer = MetricWriter(store, batch_size=200, flush_interval=0.01)
    steps = 3000
    logged = threading.Event()

    def log() -> None:
        for step in range(steps):
            for run_id in runs:
                writer.add(run_id, "loss", step, T0 + step, 1.0 / (step + 1))
            if step % 100 == 99:
                logged.set()
                time.sleep(0.02)  # a training loop: points keep coming while the server is down

    producer = threading.Thread(target=log)
    producer.start()
    database = SqlStore(f"sqlite:///{tmp_path}/server.db")
    while not database.search_runs(["1"], "metrics.loss < 0.01"):  # some batches written
        time.sleep(0.01)
    server.kill()  # mid-stream: batches in flight, more buffered
    time.sleep(0.5)
    tracking_server(port=server.port)
    producer.join(timeout=300)
    writer.flush()
    for run_id in runs:
        assert _steps(store, run_id, "loss") == list(range(steps))
    writer.close()
    database.close()
    store.close()


def _two_runs(store: RestStore) -> list[str]:
    experiment_id = store.create_experiment("restart")
    return [store.create_run(experiment_id, start_time=T0).info.run_id for _ in range(2)]
