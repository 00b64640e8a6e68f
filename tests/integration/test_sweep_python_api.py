"""Sweeps from Python (``tunetrack.sweep.run``, ``load``, ``result``): a notebook-style
objective defined in ``__main__`` runs in real worker processes and threads, and the sweep
records what the equivalent sweep file records, field by field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import tunetrack
from tunetrack.entities import Run, RunStatus
from tunetrack.errors import ConfigError, InvalidInput
from tunetrack.sweep import tags as T
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:
    from conftest import RunTunetrack

# The objective a notebook defines (in __main__), and the objectives file of the
# equivalent sweep file; NOTEBOOK adds the cell that runs the sweep.
OBJECTIVE = """\
import json
import sys

from sklearn.dummy import DummyRegressor

import tunetrack


def train(params, trial):
    score = -((params["x"] - 0.3) ** 2) - 0.01 * params["k"]
    result = {"score": score, "size": float(params["k"])}
    result["retrain_mode"] = 1.0 if trial.mode == "retrain" else 0.0
    if trial.mode == "retrain":  # the model retrain registers (autolog logs it too)
        result["model"] = DummyRegressor(strategy="constant", constant=score).fit([[0]], [0])
    return result
"""
NOTEBOOK = OBJECTIVE + textwrap.dedent(
    """
    if __name__ == "__main__":
        uri, keys = sys.argv[1], json.loads(sys.argv[2])
        result = tunetrack.sweep.run(train, tracking_uri=uri, progress=False, **keys)
        retrained = result.retrain(register_as="notebook-model", alias="champion")
        best = result.best
        print(json.dumps({
            "sweep_id": result.sweep_id,
            "best": [best.number, best.run_id, best.params, best.value],
            "trials": result.trials.to_dict(orient="list"),
            "retrained": retrained.info.run_id,
        }))
    """
)

KEYS = {
    "name": "equivalent",
    "experiment": "python-api",
    "metric": {"name": "score", "goal": "maximize"},
    "method": "random",
    "parameters": {
        "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
        "k": {"distribution": "int", "min": 0, "max": 5},
    },
    "budget": {"trials": 6},
    "select": {"constraints": ["metrics.size < 4"]},
    "tags": {"team": "notebook"},
    "seed": 11,
}
# Differs between any two sweeps, or says where a sweep came from (a file or a function)
WHERE_AND_WHEN = {
    T.SWEEP_ID,
    T.BEST_RUN,
    T.SWEEP_HEARTBEAT,
    T.SWEEP_ORCHESTRATOR,
    T.SWEEP_SOURCE,
    T.RETRAIN_SOURCE,
    T.REGISTERED_VERSION,
    "tunetrack.trial.pid",  # trials in child processes
    T.TRIAL_WORKER,
    "tunetrack.trial.started",
    "tunetrack.source.name",
    "tunetrack.source.type",
}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}


def run_notebook(tmp_path: Path, how: str, uri: str, keys: dict[str, Any]) -> dict[str, Any]:
    """Run NOTEBOOK in a new interpreter: from stdin (``__main__`` has no file, as in a
    notebook) or as a script file; return what it printed."""
    args = [uri, json.dumps(keys)]
    if how == "stdin":
        argv, stdin = [sys.executable, "-", *args], NOTEBOOK
    else:
        script = tmp_path / "notebook.py"
        script.write_text(NOTEBOOK)
        argv, stdin = [sys.executable, str(script), *args], None
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def client_runs(uri: str, sweep_id: str) -> int:
    """How many runs the sweep's parent has."""
    client = Client(uri)
    parent = client.get_run(sweep_id)
    return len(
        client.search_runs([parent.info.experiment_id], f"attributes.parent_run_id = '{sweep_id}'")
    )


def without(tags: dict[str, str], *more: str) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k not in WHERE_AND_WHEN | set(more)}


def records(client: Client, sweep_id: str) -> tuple[Run, list[Run], Run]:
    """The sweep's parent run, its trial runs and its (one) retrain run."""
    parent = client.get_run(sweep_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"attributes.parent_run_id = '{sweep_id}'"
    )
    (retrained,) = [r for r in children if r.data.tags[T.RUN_TYPE] == "retrain"]
    return parent, trial_runs(client, parent), retrained


@pytest.mark.parametrize(
    ("backend", "how"), [("loky", "stdin"), ("threading", "stdin"), ("loky", "file")]
)
def test_a_notebook_sweep_records_what_the_equivalent_sweep_file_records(
    tmp_path: Path, backend: str, how: str, run_tunetrack: RunTunetrack
) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    keys = {**KEYS, "parallel": {"n_jobs": 2, "backend": backend}}
    printed = run_notebook(tmp_path, how, uri, keys)

    folder = tmp_path / "file"
    folder.mkdir()
    (folder / "objectives.py").write_text(OBJECTIVE)
    (folder / "sweep.yaml").write_text(
        yaml.safe_dump({**keys, "objective": "objectives.py:train"}, sort_keys=False)
    )
    cli = ("--tracking-uri", uri, "--json")
    ran = run_tunetrack("sweep", "run", "sweep.yaml", *cli, cwd=folder)
    assert ran.returncode == 0, ran.stderr
    file_sweep_id = json.loads(ran.stdout)["sweep_id"]
    retrain = ("--register", "file-model", "--alias", "champion")
    ran = run_tunetrack("retrain", file_sweep_id, *retrain, *cli, cwd=folder)
    assert ran.returncode == 0, ran.stderr

    client = Client(uri)
    parent, trials, retrained = records(client, printed["sweep_id"])
    file_parent, file_trials, file_retrained = records(client, file_sweep_id)
    from_file = tunetrack.sweep.result(file_sweep_id, tracking_uri=uri)

    # the parent: status, params (but which objective), tags, summary metrics, artifacts
    assert parent.info.status == file_parent.info.status == RunStatus.FINISHED
    assert parent.info.experiment_id == file_parent.info.experiment_id
    params, file_params = dict(parent.data.params), dict(file_parent.data.params)
    objective = params.pop("objective")
    assert objective == ("__main__:train" if how == "stdin" else f"{tmp_path}/notebook.py:train")
    assert file_params.pop("objective") == f"{folder}/objectives.py:train"
    assert params == file_params
    assert params["parallel.backend"] == backend
    assert without(parent.data.tags) == without(file_parent.data.tags)
    assert parent.data.tags["team"] == "notebook"
    assert parent.data.metrics == file_parent.data.metrics
    assert parent.data.metrics["trials_finished"] == 6

    def artifacts(run: Run) -> list[str]:
        return sorted(f.path for f in client.list_artifacts(run.info.run_id))

    assert artifacts(parent) == artifacts(file_parent)

    # the trials: same numbers, params, metrics, statuses; tags but where they came from
    assert len(trials) == len(file_trials) == 6
    for trial, file_trial in zip(trials, file_trials, strict=True):
        assert trial.info.parent_run_id == parent.info.run_id
        assert trial.info.status == file_trial.info.status == RunStatus.FINISHED
        assert trial.data.params == file_trial.data.params
        assert trial.data.metrics == file_trial.data.metrics
        assert without(trial.data.tags) == without(file_trial.data.tags)

    # the best trial under the constraint, as SweepResult.best and .trials show it
    number, run_id, params, value = printed["best"]
    best = client.get_run(run_id)
    assert best.info.run_id == parent.data.tags[T.BEST_RUN]
    assert best.data.metrics["size"] < 4
    assert (number, value) == (int(best.data.tags[T.TRIAL_NUMBER]), best.data.metrics["score"])
    assert params == json.loads(best.data.tags[T.TRIAL_PARAMS])
    assert number == from_file.best.number
    assert params == from_file.best.params
    table = printed["trials"]
    assert table["number"] == list(range(6))
    assert table["run_id"] == [t.info.run_id for t in trials]
    assert table["status"] == ["FINISHED"] * 6
    assert table["params.x"] == [json.loads(t.data.tags[T.TRIAL_PARAMS])["x"] for t in trials]
    assert table["metrics.score"] == [t.data.metrics["score"] for t in trials]
    # seconds from each run's start to its end (a quick threaded trial may take under 1 ms)
    assert table["duration"] == [(t.info.end_time - t.info.start_time) / 1000 for t in trials]
    assert all(d >= 0 for d in table["duration"])

    # retrain: the best trial's params in retrain mode, its model registered
    assert retrained.info.status == file_retrained.info.status == RunStatus.FINISHED
    assert retrained.data.tags[T.RETRAIN_SOURCE] == run_id
    assert retrained.data.params == file_retrained.data.params  # autolog's DummyRegressor too
    assert best.data.params.items() <= retrained.data.params.items()
    assert retrained.data.metrics == file_retrained.data.metrics
    assert retrained.data.metrics["retrain_mode"] == 1.0
    assert without(retrained.data.tags) == without(file_retrained.data.tags)
    champion = client.get_model_version_by_alias("notebook-model", "champion")
    assert champion.run_id == retrained.info.run_id


def test_a_stored_sweep_loads_as_a_sweep_to_read_and_resume(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    keys = {**KEYS, "parallel": {"n_jobs": 1}, "budget": {"trials": 3}}
    printed = run_notebook(tmp_path, "stdin", uri, keys)
    sweep_id = printed["sweep_id"]

    # another process: it can read the sweep, not load a function defined in a notebook
    result = tunetrack.sweep.result(sweep_id, tracking_uri=uri)
    assert result.counts["finished"] == 3
    assert result.best is not None
    assert result.best.run_id == printed["best"][1]
    assert result.retrain_run_id == printed["retrained"]
    assert result.trials["run_id"].tolist() == printed["trials"]["run_id"]
    sweep = tunetrack.sweep.load(sweep_id, tracking_uri=uri, overrides=["budget.trials=5"])
    assert sweep.config.budget.trials == 5
    for needs_the_function in (sweep.resume, result.retrain):
        with pytest.raises(ConfigError, match="defined in a notebook or an interactive session"):
            needs_the_function()
    assert client_runs(uri, sweep_id) == 3 + 1  # nothing was started: 3 trials, 1 retrain

    def train(params: dict[str, Any], trial: Any) -> dict[str, float]:
        return {"score": -((params["x"] - 0.3) ** 2), "size": float(params["k"])}

    again = tunetrack.sweep.load(
        sweep_id, tracking_uri=uri, overrides=["budget.trials=5"], objective=train
    )
    resumed = again.resume(progress=False)
    assert resumed.sweep_id == sweep_id
    assert resumed.counts["finished"] == 5
    assert [r.number for r in resumed.results] == [3, 4]
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({**keys, "objective": "json:loads"}))
    with pytest.raises(InvalidInput, match="nothing to resume"):
        tunetrack.sweep.load(tmp_path / "sweep.yaml").resume()


def test_python_keys_are_checked_before_anything_is_recorded(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    with pytest.raises(ConfigError, match=r"^tunetrack\.sweep\.run: budget\.trials: must be >= 1"):
        tunetrack.sweep.run(
            lambda params: 1.0,
            metric={"name": "score", "goal": "maximize"},
            budget={"trials": 0},
            tracking_uri=uri,
        )
    assert Client(uri).get_experiment_by_name("sweep") is None  # a lambda's sweep's name


def test_a_define_by_run_sweep_needs_no_parameters(tmp_path: Path) -> None:
    def objective(params: dict[str, Any], trial: Any) -> float:
        assert params == {}
        return -((trial.suggest_float("x", -1.0, 1.0) - 0.5) ** 2)

    result = tunetrack.sweep.run(
        objective,
        metric={"name": "loss", "goal": "maximize"},
        budget={"trials": 4},
        parallel={"n_jobs": 2, "backend": "threading"},
        tracking_uri=f"sqlite:///{tmp_path}/t.db",
        progress=False,
    )
    assert result.counts["finished"] == 4
    assert list(result.trials.columns) == [
        "number", "status", "params.x", "metrics.loss", "run_id", "duration"
    ]  # fmt: skip
    best = result.best
    assert best is not None
    assert best.value == max(result.trials["metrics.loss"])
    assert best.params == {"x": result.trials["params.x"][best.number]}
