"""A sweep whose objective logs through ``mlflow.*`` calls into a real ``tunetrack server``:
each trial hands mlflow its server and run (``trial.tracking_uri``, ``trial.run_id``), so
what mlflow logs lands in the trial's own run, and the sweep selects its best trial by a
metric that only mlflow logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tunetrack.entities import RunStatus
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer

pytest.importorskip("mlflow")

CLI = "from tunetrack.cli import main; main()"
TRIALS = 6

OBJECTIVE = """\
import mlflow


def train(params, trial):
    mlflow.set_tracking_uri(trial.tracking_uri)
    with mlflow.start_run(run_id=trial.run_id):
        mlflow.log_param("optimizer", f"sgd-{params['k']}")
        mlflow.set_tag("logged_by", "mlflow")
        for step in range(3):
            mlflow.log_metric("mlflow_loss", params["x"] / (step + 1), step=step)
        mlflow.log_metric("width", float(params["k"]))  # only mlflow logs it
    return {"score": -((params["x"] - 0.3) ** 2) + 0.1 * params["k"]}
"""

SWEEP = f"""\
name: mlflow-objective
experiment: mlflow-sweep
objective: objectives.py:train
metric: {{name: score, goal: maximize}}
method: random
parameters:
  x: {{distribution: uniform, min: 0.0, max: 1.0}}
  k: {{distribution: int, min: 0, max: 3}}
budget: {{trials: {TRIALS}}}
parallel: {{n_jobs: 2, backend: loky}}
select: {{constraints: ["metrics.width < 2"]}}
seed: 3
"""


def test_a_sweep_whose_objective_logs_through_mlflow_selects_by_what_mlflow_logged(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    (tmp_path / "objectives.py").write_text(OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNETRACK_", "MLFLOW_"))}
    env |= {
        "TUNETRACK_TRACKING_URI": server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        # mlflow prints each run's URL on stdout, where the sweep's JSON goes
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", CLI, "sweep", "run", "sweep.yaml", "--json", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr + server.output()
    result = json.loads(done.stdout)
    assert result["counts"]["finished"] == TRIALS

    client = Client(server.url)
    trials = trial_runs(client, client.get_run(result["sweep_id"]))
    assert len(trials) == TRIALS
    for run in trials:  # mlflow logged into the trial's own run; tunetrack reads it all
        k = run.data.params["k"]
        assert run.data.params["optimizer"] == f"sgd-{k}"
        assert run.data.tags["logged_by"] == "mlflow"
        assert run.data.metrics["width"] == float(k)
        x = float(run.data.params["x"])
        history = client.get_metric_history(run.info.run_id, "mlflow_loss")
        assert [(m.step, m.value) for m in history] == [(s, x / (s + 1)) for s in range(3)]
        assert run.info.status == RunStatus.FINISHED  # the sweep ends it after mlflow did
    allowed = [run for run in trials if run.data.metrics["width"] < 2]
    barred = [run for run in trials if run.data.metrics["width"] >= 2]
    best_of = max(trials, key=lambda run: run.data.metrics["score"])
    assert allowed, "the seed gave no trial the constraint allows"
    assert best_of in barred, "the seed's best trial would pass the constraint anyway"
    best_allowed = max(allowed, key=lambda run: run.data.metrics["score"])
    assert result["best_run_id"] == best_allowed.info.run_id
    client.close()
