"""The model a sweep registers is the one that produced the best trial's result.

The objectives (``tests/sweeps_data/model_objectives.py``) fit helpers and several
estimators the way users do, with no logging code: autolog records them, and retrain must
register the model behind the result - never a scaler, a helper fitted inside
scikit-learn, or the first stage of a warm-started model. The first two tests go through
the ``tunetrack`` command in a subprocess; the rest through the Python API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

import tunetrack
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.retrain import retrain
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.select import trial_params
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "model_objectives.py"
TUNETRACK = str(Path(sys.executable).with_name("tunetrack"))


def write_sweep(folder: Path, objective: str, parameters: dict, **fields: Any) -> Path:
    """A grid sweep over ``parameters`` maximising ``accuracy``, in ``folder/sweep.yaml``
    beside a copy of the objectives; ``fields`` add or replace keys."""
    shutil.copy(OBJECTIVES, folder / "model_objectives.py")
    spec = {
        "name": objective.replace("_", "-"),
        "objective": f"model_objectives.py:{objective}",
        "metric": {"name": "accuracy", "goal": "maximize"},
        "method": "grid",
        "parameters": {name: {"values": values} for name, values in parameters.items()},
        "parallel": {"n_jobs": 2, "backend": "loky"},
        **fields,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def tunetrack_cli(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``tunetrack`` command; it must succeed."""
    done = subprocess.run(
        [TUNETRACK, *args, "--tracking-uri", uri], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def model_paths(run_id: str) -> list[str]:
    """The artifact paths of the models a run logged (its ``tunetrack.model.*`` tags)."""
    tags = Client().get_run(run_id).data.tags
    suffix = ".flavor"
    return sorted(
        k.removeprefix("tunetrack.model.")[: -len(suffix)] for k in tags if k.endswith(suffix)
    )


def run_cli_sweep(path: Path, uri: str) -> str:
    out = tunetrack_cli(uri, "sweep", "run", str(path), "--no-progress", "--json").stdout
    return json.loads(out[out.index("{") :])["sweep_id"]


def test_a_scaler_then_logreg_objective_registers_the_logreg(
    tmp_path: Path, isolated_tracking: str
) -> None:
    path = write_sweep(
        tmp_path,
        "scaled_logreg",
        {"C": [0.01, 1.0]},
        retrain={"register_as": "cancer-logreg", "alias": "champion"},
    )
    sweep_id = run_cli_sweep(path, isolated_tracking)
    model = tunetrack.load_model("models:/cancer-logreg@champion")
    assert type(model).__name__ == "LogisticRegression"
    best_trial = Client().get_run(Client().get_run(sweep_id).data.tags[T.BEST_RUN])
    assert model.C == trial_params(best_trial)["C"] == 1.0  # the winner, not C=0.01
    for trial in trial_runs(Client(), Client().get_run(sweep_id)):
        assert model_paths(trial.info.run_id) == ["model"]  # no scaler, no LabelBinarizer
        assert trial.data.tags["estimator_name"] == "LogisticRegression"
    best = tunetrack_cli(isolated_tracking, "best", sweep_id).stdout
    best_run = Client().get_run(sweep_id).data.tags[T.BEST_RUN]
    assert f"model: runs:/{best_run}/model" in best
    again = tunetrack_cli(isolated_tracking, "retrain", sweep_id, "--register", "other")
    retrained = Client().get_model_version("other", "1").run_id
    assert f"model: runs:/{retrained}/model" in again.stdout


def test_a_warm_start_objective_registers_the_last_stage(
    tmp_path: Path, isolated_tracking: str
) -> None:
    path = write_sweep(
        tmp_path,
        "staged_boosting",
        {"stages": [1, 4], "learning_rate": [0.01, 0.3]},
        retrain={"register_as": "cancer-hgb"},
    )
    sweep_id = run_cli_sweep(path, isolated_tracking)
    client = Client()
    best = client.get_run(client.get_run(sweep_id).data.tags[T.BEST_RUN])
    model = tunetrack.load_model("models:/cancer-hgb/latest")
    assert model.n_iter_ == 10 * trial_params(best)["stages"]
    for trial in trial_runs(client, client.get_run(sweep_id)):
        assert model_paths(trial.info.run_id) == ["model"]  # one artifact per trial
        stages = trial_params(trial)["stages"]
        if stages > 1:  # what changed between the fits of the one estimator
            history = json.loads(trial.data.tags["tunetrack.autolog.refits"])
            assert history == {"fits": stages, "params": {"max_iter": [10, 20, 30, 40]}}
        stored = tunetrack.load_model(f"runs:/{trial.info.run_id}/model")
        assert stored.n_iter_ == 10 * stages


def python_sweep(folder: Path, objective: str) -> str:
    """Run a two-trial sweep of ``objective`` in this process; return its id."""
    path = write_sweep(folder, objective, {"n_estimators": [5, 10]}, parallel={"n_jobs": 1})
    return run_sweep(load_sweep_config(path), progress=False).sweep_id


@pytest.mark.parametrize("objective", ["forest_named_by_trial", "forest_returned"])
def test_the_model_the_objective_names_is_registered(
    tmp_path: Path, isolated_tracking: str, objective: str
) -> None:
    sweep_id = python_sweep(tmp_path, objective)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = retrain(sweep_id, register_as="forest")
    assert not [w for w in caught if "several models" in str(w.message)]
    assert run.data.tags[T.REGISTERED_VERSION] == "forest/1"
    assert type(tunetrack.load_model("models:/forest/1")).__name__ == "RandomForestClassifier"


def test_several_unnamed_models_register_the_last_fit_with_a_warning(
    tmp_path: Path, isolated_tracking: str
) -> None:
    sweep_id = python_sweep(tmp_path, "forest_unnamed")
    with pytest.warns(UserWarning, match=r"several models \(model, model_2\).*model_2"):
        retrain(sweep_id, register_as="last")
    assert type(tunetrack.load_model("models:/last/1")).__name__ == "LogisticRegression"
