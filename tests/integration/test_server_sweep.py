"""An example sweep against a real ``tunetrack server``: the CLI, its two loky workers and the
retrain all log through RestStore, and every artifact goes through the server's proxy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import tunetrack
from tunetrack.entities import RunStatus
from tunetrack.models import load_model
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import RunTunetrack, StartServer

IRIS_RF = Path(__file__).parents[2] / "sweeps" / "iris_rf.yaml"


def test_example_sweep_runs_against_a_server_and_its_artifacts_arrive_through_the_proxy(
    tracking_server: StartServer,
    run_tunetrack: RunTunetrack,
    isolated_tracking: str,
    tmp_path: Path,
) -> None:
    server = tracking_server()
    work = tmp_path / "client"
    work.mkdir()
    sets = ["budget.trials=4", "parallel.n_jobs=2", "parallel.backend=loky"]
    done = run_tunetrack(
        "sweep", "run", str(IRIS_RF), *(x for s in sets for x in ("--set", s)),
        "--json", "--no-progress",
        cwd=work,
        env={"TUNETRACK_TRACKING_URI": server.url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + server.output()
    out = json.loads(done.stdout)
    assert out["counts"]["finished"] == 4

    client = Client(server.url)
    trials = trial_runs(client, client.get_run(out["sweep_id"]))
    assert len(trials) == 4
    assert {run.info.status for run in trials} == {RunStatus.FINISHED}
    proxy = f"{server.url}/api/artifacts/"
    for run in [*trials, client.get_run(out["retrain_run_id"])]:
        assert run.info.artifact_uri.startswith(proxy)
        on_disk = tmp_path / "server-artifacts" / run.info.artifact_uri[len(proxy) :]
        listed = [info.path for info in client.list_artifacts(run.info.run_id)]
        assert listed == sorted(os.listdir(on_disk))
        assert (on_disk / "model" / "model.yaml").is_file()
    tunetrack.set_tracking_uri(server.url)
    model = load_model(f"runs:/{out['retrain_run_id']}/model")  # downloaded through the proxy
    assert model.n_estimators == out["best_params"]["n_estimators"]
    # the client kept nothing locally: no database, no artifacts
    assert not (work / "tunetrack-artifacts").exists()
    assert not (work / "tunetrack.db").exists()
    client.close()
