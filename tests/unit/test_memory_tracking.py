"""An in-memory SQLite tracking URI: one database shared by the caller and the writer thread."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

import tunetrack
from tunetrack import Client
from tunetrack.store.tracking_uri import normalize_uri

MEMORY_URIS = ["sqlite:///:memory:", "sqlite://"]
POINTS = 2000


def fresh_name() -> str:
    """An experiment name of its own: one process shares one in-memory database."""
    return f"in-memory-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("uri", MEMORY_URIS)
def test_both_memory_uri_forms_name_one_in_memory_database(uri: str) -> None:
    assert normalize_uri(uri) == "sqlite:///:memory:"


@pytest.mark.parametrize("uri", MEMORY_URIS)
def test_fluent_api_tracks_into_memory(uri: str) -> None:
    tunetrack.set_tracking_uri(uri)
    tunetrack.set_experiment(fresh_name())
    with tunetrack.start_run() as run:
        tunetrack.log_param("depth", 3)
        for step in range(50):
            tunetrack.log_metric("loss", 1.0 / (step + 1), step=step)
        tunetrack.log_text("hello", "notes.txt")
    history = Client().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(50))
    runs = tunetrack.search_runs(filter_string="params.depth = '3'")
    assert list(runs["run_id"]) == [run.info.run_id]
    assert runs["metrics.loss"][0] == pytest.approx(1.0 / 50)
    # artifacts of an in-memory store go to ./tunetrack-artifacts of the directory it was
    # opened in (the first test of this process to open it)
    artifacts = Path(run.info.artifact_uri)
    assert artifacts.parent.parent.name == "tunetrack-artifacts"
    assert (artifacts / "notes.txt").read_text() == "hello"


@pytest.mark.parametrize("uri", MEMORY_URIS)
def test_client_tracks_into_memory(uri: str) -> None:
    with Client(uri) as client:
        experiment_id = client.create_experiment(fresh_name())
        run_id = client.create_run(experiment_id).info.run_id
        for step in range(50):
            client.log_metric(run_id, "acc", step / 50, step=step)
        assert len(client.get_metric_history(run_id, "acc")) == 50
        found = client.search_runs([experiment_id], "metrics.acc > 0.5")
        assert [r.info.run_id for r in found] == [run_id]


def test_writer_thread_and_reader_share_the_memory_database_safely() -> None:
    """A thread logs through the batched writer while this thread keeps reading."""
    with Client("sqlite:///:memory:") as client:
        experiment_id = client.create_experiment(fresh_name())
        run_id = client.create_run(experiment_id).info.run_id
        errors: list[BaseException] = []
        done = threading.Event()

        def log() -> None:
            try:
                for step in range(POINTS):
                    client.log_metric(run_id, "loss", float(step), step=step)
                    if step % 10 == 9:
                        client.flush()  # many small batches: many writes to interleave with
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                done.set()

        logger = threading.Thread(target=log)
        logger.start()
        reads = 0
        while not done.is_set() or reads < 20:
            # straight to the store: these reads do not wait for the writer's thread
            client.store.get_metric_history(run_id, "loss")
            client.store.search_runs([experiment_id], "metrics.loss >= 0")
            reads += 1
        logger.join()
        assert errors == []
        history = client.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == list(range(POINTS))
