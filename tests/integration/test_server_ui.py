"""The tracking server serves the web UI beside its APIs, over the runs logged through it."""

from __future__ import annotations

import httpx

from tunetrack.store.rest import RestStore


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
