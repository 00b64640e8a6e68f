"""Autolog inside sweeps: every worker turns it on with the sweep file's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import tunetrack
from tunetrack.entities import RunStatus
from tunetrack.store.uri import open_artifacts
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

OBJECTIVE = """
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier


def train(params):
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=params["n_estimators"], random_state=0)
    model.fit(X, y)  # no logging code: autolog records it in the trial's run
    return {"score": model.score(X, y)}
"""


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "true")
    yield
    tunetrack.autolog(disable=True)
    tunetrack.set_tracking_uri(None)


def _sweep(tmp_path: Path, autolog: dict) -> tuple[Client, list]:  # type: ignore[type-arg]
    (tmp_path / "wine.py").write_text(OBJECTIVE)
    spec = {
        "name": "wine-autolog",
        "objective": "wine.py:train",
        "metric": {"name": "score", "goal": "maximize"},
        "method": "random",
        "parameters": {"n_estimators": {"distribution": "int", "min": 5, "max": 20}},
        "budget": {"trials": 4},
        "parallel": {"n_jobs": 2, "backend": "loky"},
        "autolog": autolog,
        "seed": 3,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    uri = f"sqlite:///{tmp_path}/t.db"
    tunetrack.set_tracking_uri(uri)
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    client = Client(uri)
    return client, trial_runs(client, client.get_run(result.sweep_id))


def test_loky_workers_autolog_every_trial(tmp_path: Path) -> None:
    _, trials = _sweep(tmp_path, {"log_models": True})
    assert len(trials) == 4
    for run in trials:
        assert run.info.status == RunStatus.FINISHED
        data = run.data
        # every param of get_params(deep=True), next to the trial's own param
        assert data.params["n_estimators"] == str(
            json.loads(data.tags["tunetrack.trial.params"])["n_estimators"]
        )
        assert data.params["criterion"] == "gini"
        assert data.tags["estimator_class"] == "sklearn.ensemble._forest.RandomForestClassifier"
        for name in ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc"):
            assert f"training_{name}" in data.metrics
        assert data.tags["dataset.shape"] == "178x13"
        files = {f.path for f in open_artifacts(run.info.artifact_uri).list_artifacts()}
        assert {"model", "feature_importances.json"} <= files
    model = tunetrack.load_model(f"runs:/{trials[0].info.run_id}/model")
    assert (
        model.n_estimators
        == json.loads(trials[0].data.tags["tunetrack.trial.params"])["n_estimators"]
    )


def test_sweep_file_turns_model_logging_off(tmp_path: Path) -> None:
    _, trials = _sweep(tmp_path, {"log_models": False})
    for run in trials:
        assert "training_accuracy" in run.data.metrics
        files = {f.path for f in open_artifacts(run.info.artifact_uri).list_artifacts()}
        assert "model" not in files


def test_sweep_file_disables_autolog(tmp_path: Path) -> None:
    _, trials = _sweep(tmp_path, {"disable": True})
    for run in trials:
        assert set(run.data.params) == {"n_estimators"}
        assert "training_accuracy" not in run.data.metrics


def test_an_in_process_sweep_leaves_autolog_as_it_found_it(tmp_path: Path) -> None:
    from tunetrack.autologging import enabled_integrations

    tunetrack.autolog(disable=True)
    (tmp_path / "wine.py").write_text(OBJECTIVE)
    path = tmp_path / "sweep.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "objective": "wine.py:train",
                "metric": {"name": "score", "goal": "maximize"},
                "method": "random",
                "parameters": {"n_estimators": {"distribution": "int", "min": 5, "max": 9}},
                "budget": {"trials": 2},
                "parallel": {"backend": "sequential"},
                "retrain": {"enabled": True},
            }
        )
    )
    uri = f"sqlite:///{tmp_path}/t.db"
    tunetrack.set_tracking_uri(uri)
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    trials = trial_runs(Client(uri), Client(uri).get_run(result.sweep_id))
    assert all("training_accuracy" in r.data.metrics for r in trials)  # it was on for trials
    assert result.retrain_run_id is not None
    assert enabled_integrations() == []  # and off again for the caller
