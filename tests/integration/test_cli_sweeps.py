"""The sweep commands of the CLI, end to end on the example sweeps in ``sweeps/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunetrack.cli import app
from tunetrack.entities import RunStatus
from tunetrack.sweep import tags as T
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

SWEEPS = Path(__file__).parents[2] / "sweeps"
EXAMPLES = sorted(SWEEPS.glob("*.yaml"))


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)
    return f"sqlite:///{tmp_path}/cli.db"


def cli(*args: str) -> dict | list:  # type: ignore[type-arg]
    """Run a command with --json and parse its stdout (nothing but JSON)."""
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_file(path: Path, uri: str, *overrides: str) -> dict:  # type: ignore[type-arg]
    sets = [x for o in ("budget.trials=3", *overrides) for x in ("--set", o)]
    out = cli("sweep", "run", str(path), *sets, "--tracking-uri", uri, "--no-progress")
    assert isinstance(out, dict)
    return out


def test_examples_are_the_five_documented_sweeps() -> None:
    names = {p.stem for p in EXAMPLES}
    assert names == {
        "iris_rf", "breast_cancer_xgb", "diabetes_hyperopt", "wine_grid", "digits_pareto"
    }  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_sweep_runs_end_to_end(path: Path, uri: str) -> None:
    out = run_file(path, uri)
    client = Client(uri)
    parent = client.get_run(out["sweep_id"])
    assert parent.info.status == RunStatus.FINISHED
    trials = trial_runs(client, parent)
    assert len(trials) == 3
    for run in trials:
        assert run.info.parent_run_id == parent.info.run_id
        assert run.info.status in (RunStatus.FINISHED, RunStatus.PRUNED)
        assert set(json.loads(run.data.tags[T.TRIAL_PARAMS])) <= set(run.data.params)
        assert run.data.metrics, f"trial {run.info.run_id} logged no metrics"


def test_status_list_best_compare_and_retrain(uri: str) -> None:
    out = run_file(SWEEPS / "wine_grid.yaml", uri, "budget.trials=4")
    sweep_id = out["sweep_id"]
    listed = cli("sweep", "list", "--tracking-uri", uri)
    assert [s["sweep_id"] for s in listed] == [sweep_id]
    status = cli("sweep", "status", sweep_id, "--tracking-uri", uri)
    assert [t["number"] for t in status["trials"]] == [0, 1, 2, 3]
    assert status["counts"] == {"FINISHED": 4}
    best = cli("best", sweep_id, "--tracking-uri", uri)
    values = [t["accuracy"] for t in status["trials"]]
    assert best["value"] == max(values)
    assert best["run_id"] == status["best_run_id"]
    impossible = CliRunner().invoke(
        app, ["best", sweep_id, "-c", "metrics.accuracy > 2", "--tracking-uri", uri]
    )
    assert impossible.exit_code == 1
    assert "no finished trial" in impossible.output
    first, second = (t["run_id"] for t in status["trials"][:2])
    compared = cli("runs", "compare", first, second, "--tracking-uri", uri)
    assert [r["run_id"] for r in compared] == [first, second]
    retrained = cli("retrain", sweep_id, "--tracking-uri", uri)
    assert retrained["source_run_id"] == best["run_id"]
    run = Client(uri).get_run(retrained["run_id"])
    assert run.info.parent_run_id == sweep_id
    assert run.data.tags[T.RUN_TYPE] == "retrain"


def test_registering_twice_moves_the_champion(uri: str) -> None:
    extra = ("retrain.register_as=iris-classifier", "retrain.alias=champion")
    run_file(SWEEPS / "iris_rf.yaml", uri, *extra)
    client = Client(uri)
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == 1
    run_file(SWEEPS / "iris_rf.yaml", uri, *extra)
    model = client.get_registered_model("iris-classifier")
    assert model.latest_version == 2
    assert dict(model.aliases) == {"champion": 2}
    assert client.get_model_version("iris-classifier", 1).aliases == ()


def test_a_bad_sweep_file_is_one_line_per_problem(tmp_path: Path, uri: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "objective: nope.py:train\nmetric: {name: acc, goal: maximize}\n"
        "parameters:\n  lr: {distribution: uniform, min: 0.1, max: 0.01}\n"
    )
    result = CliRunner().invoke(app, ["sweep", "run", str(bad), "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{bad}:1: objective:" in result.output
    assert f"{bad}:4: parameters.lr" in result.output


def test_sweep_run_says_what_it_registered(tmp_path: Path, uri: str) -> None:
    (tmp_path / "stumps.py").write_text(
        "from sklearn.datasets import load_wine\n"
        "from sklearn.tree import DecisionTreeClassifier\n\n\n"
        "def train(params):\n"
        "    X, y = load_wine(return_X_y=True)\n"
        "    tree = DecisionTreeClassifier(max_depth=params['depth'], random_state=0)\n"
        "    return {'accuracy': float(tree.fit(X, y).score(X, y))}\n"
    )
    sweep = tmp_path / "stumps.yaml"
    sweep.write_text(
        "name: stumps\nexperiment: stumps\nobjective: stumps.py:train\n"
        "metric: {name: accuracy, goal: maximize}\nmethod: grid\n"
        "parameters:\n  depth: {values: [1, 2]}\n"
        "parallel: {n_jobs: 1, backend: sequential}\n"
        "retrain: {register_as: wine-stump, alias: champion}\n"
    )
    args = ["sweep", "run", str(sweep), "--tracking-uri", uri, "--no-progress"]
    human = CliRunner().invoke(app, args, catch_exceptions=False)
    assert human.exit_code == 0, human.output
    assert "registered wine-stump version 1 (alias champion)" in human.stdout
    out = cli(*args)
    assert out["registered"] == {
        "name": "wine-stump", "version": 2, "aliases": ["champion"],
        "model_uri": "models:/wine-stump/2",
    }  # fmt: skip


OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "objectives.py"


def write_test_sweep(tmp_path: Path, objective: str, rest: str) -> Path:
    """A sequential sweep maximising ``score`` with ``objectives.py:<objective>`` (a copy of
    ``tests/sweeps_data/objectives.py``); ``rest`` holds its parameters, method, budget."""
    shutil.copy(OBJECTIVES, tmp_path / "objectives.py")
    path = tmp_path / f"{objective}.yaml"
    path.write_text(
        f"name: {objective}\nexperiment: {objective}\nobjective: objectives.py:{objective}\n"
        "metric: {name: score, goal: maximize}\nparallel: {n_jobs: 1, backend: sequential}\n" + rest
    )
    return path


def test_a_sweep_whose_trials_all_fail_stops_early_says_why_and_exits_non_zero(
    tmp_path: Path, uri: str
) -> None:
    path = write_test_sweep(
        tmp_path,
        "misspelled_metric",
        "method: random\nparameters:\n  x: {distribution: uniform, min: 0, max: 1}\n"
        "budget: {trials: 20}\n",
    )
    args = ["sweep", "run", str(path), "--tracking-uri", uri, "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    client = Client(uri)
    [parent] = client.search_runs(
        [client.get_experiment_by_name("misspelled_metric").experiment_id],
        f"tags.`{T.RUN_TYPE}` = 'sweep'",
    )
    trials = trial_runs(client, parent)
    assert len(trials) == 5  # budget.max_failures' default stops it, not the 20 trials
    assert "max_failures" in result.stdout
    reason = "InvalidInput: the objective's result has no 'score' (it returned 'scroe')"
    [line] = [line for line in result.stdout.splitlines() if reason in line]
    first = trials[0]
    assert line.strip().startswith("5 failed")
    assert f"trial 0, run {first.info.run_id}" in line
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("error: no trial finished")


def test_sweep_status_shows_why_each_trial_failed_and_no_metric_for_it(
    tmp_path: Path, uri: str
) -> None:
    path = write_test_sweep(
        tmp_path,
        "fails_after_reporting",
        "method: grid\nparameters:\n  kind: [good, bad]\n  x: [0.25, 0.5]\n",
    )
    run_args = ["sweep", "run", str(path), "--tracking-uri", uri, "--no-progress"]
    assert CliRunner().invoke(app, run_args).exit_code == 0
    client = Client(uri)
    experiment = client.get_experiment_by_name("fails_after_reporting")
    [parent] = client.search_runs([experiment.experiment_id], f"tags.`{T.RUN_TYPE}` = 'sweep'")
    sweep_id = parent.info.run_id
    status = cli("sweep", "status", sweep_id, "--tracking-uri", uri)
    by_status: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for trial in status["trials"]:
        by_status.setdefault(trial["status"], []).append(trial)
    assert len(by_status["FINISHED"]) == len(by_status["FAILED"]) == 2
    for trial in by_status["FAILED"]:
        assert trial["score"] is None  # its last reported value is not a result
        assert trial["reason"] == f"RuntimeError: diverged at step 3 (x={trial['params']['x']})"
    for trial in by_status["FINISHED"]:
        assert trial["score"] == trial["params"]["x"]
        assert trial["reason"] is None
    human = CliRunner().invoke(
        app, ["sweep", "status", sweep_id, "--tracking-uri", uri], env={"COLUMNS": "200"}
    )
    failed = [line for line in human.stdout.splitlines() if " FAILED " in line]  # table rows
    assert len(failed) == 2
    for line in failed:
        assert "RuntimeError: diverged at step 3" in line
        assert "2.123" not in line  # the last value trial.report logged
