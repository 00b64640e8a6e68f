"""The tracking server serves the web UI beside its APIs, over the runs logged through it."""

from __future__ import annotations

import os

import httpx

from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.rest import RestStore
from tunetrack.store.sql.store import SqlStore


def test_runs_logged_through_the_server_appear_in_its_web_ui(tracking_server) -> None:
    server = tracking_server()
    store = RestStore(server.url)
    experiment_id = store.create_experiment("served-ui")
    run = store.create_run(experiment_id, start_time=1_700_000_000_000, run_name="seen-in-ui")
    store.log_metric_rows([(run.info.run_id, "loss", i, 1_700_000_000_000 + i, 1.0 / (i + 1))
                           for i in range(50)])  # fmt: skip
    experiments = httpx.get(server.url + "/", timeout=30)
    assert experiments.status_code == 200
    assert "served-ui" in experiments.text
    runs = httpx.get(server.url + f"/experiments/{experiment_id}", timeout=30)
    assert "seen-in-ui" in runs.text
    detail = httpx.get(server.url + f"/runs/{run.info.run_id}", timeout=30)
    assert detail.status_code == 200
    assert "loss" in detail.text
    store.close()


def test_the_web_ui_of_a_server_opens_no_artifact_location_outside_its_store(
    tracking_server, tmp_path
) -> None:
    server = tracking_server()
    outside = tmp_path / "outside"
    # a run stored by other means than the server's API: its artifacts outside the store
    database = SqlStore(f"sqlite:///{tmp_path}/server.db")
    experiment_id = database.create_experiment("elsewhere", artifact_location=str(outside))
    run_id = database.create_run(experiment_id, start_time=1_700_000_000_000).info.run_id
    folder = ArtifactRepository(database.get_run(run_id).info.artifact_uri).local_root
    assert folder is not None
    assert folder.startswith(str(outside))
    os.makedirs(folder)
    secret = "not for the web " * 4
    for name in ("secret.txt", "page.html"):
        with open(os.path.join(folder, name), "w") as fh:
            fh.write(secret)
    database.close()

    for route in ("artifact?path=secret.txt", "artifact-frame?path=page.html"):
        answer = httpx.get(f"{server.url}/runs/{run_id}/{route}", timeout=30)
        assert answer.status_code == 403, answer.text
        assert "outside this server's artifact store" in answer.text
        assert secret not in answer.text
    page = httpx.get(f"{server.url}/runs/{run_id}", params={"artifact": "secret.txt"}, timeout=30)
    assert page.status_code == 200  # the run, without its artifacts
    assert "outside this server&#39;s artifact store" in page.text
    assert secret not in page.text
    assert ">secret.txt<" not in page.text  # not listed either
