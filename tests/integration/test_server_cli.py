"""``tunetrack server`` as people start it: several worker processes on SQLite and PostgreSQL,
a warning when it listens beyond this machine, one clear line for a bad store URI."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from tunetrack.entities import Metric, Param
from tunetrack.store.rest import RestStore

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import RunTunetrack, StartServer

T0 = 1_700_000_000_000
CLIENTS = 8
STEPS = 50


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/workers.db"
    return request.getfixturevalue("fresh_postgres_uri")


def test_several_workers_serve_concurrent_clients_without_losing_a_write(
    tracking_server: StartServer, backend_store_uri: str
) -> None:
    server = tracking_server("--backend-store-uri", backend_store_uri, "--workers", "3")
    assert len(psutil.Process(server.proc.pid).children()) >= 3
    store = RestStore(server.url)
    experiment_id = store.create_experiment("workers")
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            run_id = store.create_run(
                experiment_id, start_time=T0, run_name=f"c{index}"
            ).info.run_id
            store.log_batch(run_id, params=[Param("client", str(index))])
            for step in range(STEPS):
                store.log_batch(run_id, metrics=[Metric("loss", float(step), T0 + step, step)])
            store.log_metric_rows([(run_id, "acc", s, T0 + s, 0.5) for s in range(STEPS)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    runs = store.search_runs([experiment_id], max_results=100)
    assert sorted(run.data.params["client"] for run in runs) == [str(i) for i in range(CLIENTS)]
    for run in runs:
        assert len(store.get_metric_history(run.info.run_id, "loss")) == STEPS
        assert len(store.get_metric_history(run.info.run_id, "acc")) == STEPS
    assert "locked" not in server.stderr.read_text()
    store.close()


def test_listening_beyond_loopback_warns_that_the_server_is_open(
    tracking_server: StartServer,
) -> None:
    quiet = tracking_server()
    assert "warning" not in quiet.stderr.read_text()
    open_server = tracking_server("--host", "0.0.0.0")
    assert "open to anyone who can reach it" in open_server.stderr.read_text()


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:1", "mysql://db/x"], ids=["a-server", "unsupported"]
)
def test_a_bad_backend_store_uri_is_one_line_and_exit_1(
    run_tunetrack: RunTunetrack, tmp_path: Path, uri: str
) -> None:
    done = run_tunetrack("server", "--backend-store-uri", uri, "--port", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
