"""The trial API optuna users expect, through a sweep file: define-by-run parameters
(``trial.suggest_*``) beside declared ones, pruning with ``trial.should_prune()``, user
attributes as tags, and optuna's ``TrialPruned`` recognised by type, not by name.

The objectives are in ``tests/sweeps_data/trial_api.py``, copied beside each sweep file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunetrack.entities import LifecycleStage, Run, RunStatus
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.results import SweepResult
from tunetrack.sweep.retrain import retrain
from tunetrack.sweep.runner import resume_sweep, run_sweep
from tunetrack.sweep.space import Categorical, Float, Int, SearchSpace
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.worker import ERROR_TAG, RUN_DELETED
from tunetrack.tracking.client import Client

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "trial_api.py"
SUGGESTED = SearchSpace(
    [
        ("x", Float(0.0, 1.0)),
        ("lr", Float(1e-4, 1e-1, log=True)),
        ("depth", Int(2, 8, step=2)),
        ("kind", Categorical(("linear", "tree"))),
    ]
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)


def run_file(tmp_path: Path, function: str, **keys: Any) -> tuple[SweepResult, Client, list[Run]]:
    """Run a sweep file naming ``trial_api.py:<function>`` (maximise ``score``, one job,
    unless ``keys`` say); return its result, a client and its trial runs."""
    folder = tmp_path / "sweep"
    folder.mkdir(exist_ok=True)
    shutil.copy(OBJECTIVES, folder / "trial_api.py")
    data = {
        "name": function,
        "objective": f"trial_api.py:{function}",
        "metric": {"name": "score", "goal": "maximize"},
        "parallel": {"n_jobs": 1},
        **keys,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    client = Client(uri)
    return result, client, trial_runs(client, client.get_run(result.sweep_id))


def params_of(run: Run) -> dict[str, Any]:
    return json.loads(run.data.tags[T.TRIAL_PARAMS])


def test_optuna_trial_pruned_is_recognised_by_type_not_by_class_name(tmp_path: Path) -> None:
    hows = ["optuna", "optuna-subclass", "tunetrack", "lookalike"]
    _, _, trials = run_file(
        tmp_path, "stops_early", method="grid", parameters={"how": {"values": hows}}
    )
    status = {params_of(run)["how"]: run.info.status for run in trials}
    assert status == {
        "optuna": RunStatus.PRUNED,
        "optuna-subclass": RunStatus.PRUNED,  # class Enough(optuna.TrialPruned)
        "tunetrack": RunStatus.PRUNED,
        "lookalike": RunStatus.FAILED,  # class TrialPruned(Exception), not optuna's
    }
    (lookalike,) = [run for run in trials if params_of(run)["how"] == "lookalike"]
    assert lookalike.data.tags[ERROR_TAG] == "TrialPruned: not a pruning exception"


def test_a_trial_whose_run_is_deleted_while_it_runs_fails_and_the_sweep_goes_on(
    tmp_path: Path,
) -> None:
    result, client, _ = run_file(
        tmp_path, "deletes_its_run", method="grid", parameters={"delete": {"values": [True, False]}}
    )
    by_number = {r.number: r for r in result.results}
    assert (by_number[0].state, by_number[0].error) == ("failed", RUN_DELETED)
    assert by_number[1].state == "complete"
    deleted = client.get_run(by_number[0].run_id)
    assert deleted.info.lifecycle_stage == LifecycleStage.DELETED
    assert deleted.info.status == RunStatus.FAILED
    assert deleted.info.end_time is not None
    assert dict(deleted.data.metrics) == {}  # its score was refused with the status
    assert ERROR_TAG not in deleted.data.tags  # a deleted run takes no tag
    kept = client.get_run(by_number[1].run_id)
    assert (kept.info.status, kept.data.metrics["score"]) == (RunStatus.FINISHED, 1.0)
    assert result.counts["failed"] == 1
    assert result.counts["finished"] == 1


def check_define_by_run_trial(run: Run) -> dict[str, Any]:
    """The suggested params are recorded as params (strings), with their types in
    ``tunetrack.trial.params`` and their distributions in ``tunetrack.trial.suggested``;
    the user attributes are tags. Returns the params."""
    params = params_of(run)
    assert list(params) == ["k", "x", "lr", "depth", "kind"]
    assert run.data.params == {k: str(v) for k, v in params.items()}
    assert 0.0 <= params["x"] <= 1.0
    assert 1e-4 <= params["lr"] <= 1e-1
    assert type(params["depth"]) is int
    assert params["depth"] in (2, 4, 6, 8)
    assert params["kind"] in ("linear", "tree")
    assert SearchSpace.from_json(run.data.tags[T.TRIAL_SUGGESTED]) == SUGGESTED
    assert run.data.tags["depth_label"] == f"d{params['depth']}"
    assert json.loads(run.data.tags["config"]) == {"kind": params["kind"], "lr": params["lr"]}
    return params


def define_by_run(tmp_path: Path, **keys: Any) -> tuple[SweepResult, Client, list[Run]]:
    """A TPE sweep of ``define_by_run`` declaring only ``k`` (see run_file)."""
    return run_file(
        tmp_path, "define_by_run", method="tpe", parameters={"k": {"values": [0, 1]}}, **keys
    )


@pytest.mark.parametrize(("backend", "n_jobs"), [("sequential", 1), ("loky", 2)])
def test_define_by_run_params_are_recorded_and_should_prune_prunes(
    tmp_path: Path, backend: str, n_jobs: int
) -> None:
    result, client, trials = define_by_run(
        tmp_path,
        budget={"trials": 14},
        parallel={"n_jobs": n_jobs, "backend": backend},
        early_terminate={"type": "median", "min_steps": 2, "min_trials": 3},
        seed=5,
    )
    assert len(trials) == 14
    by_status: dict[RunStatus, list[Run]] = {}
    for run in trials:
        params = check_define_by_run_trial(run)
        by_status.setdefault(run.info.status, []).append(run)
        steps = {m.step for m in client.get_metric_history(run.info.run_id, "score")}
        if run.info.status == RunStatus.FINISHED:
            assert run.data.metrics["score"] == pytest.approx(params["x"] + 0.01 * params["k"])
            assert steps == set(range(10))
        else:
            assert 2 <= len(steps) < 10  # stopped by trial.should_prune()
    assert set(by_status) == {RunStatus.FINISHED, RunStatus.PRUNED}
    assert result.counts["pruned"] == len(by_status[RunStatus.PRUNED])

    best = client.get_run(result.best_run_id)
    assert result.best_params == params_of(best)
    retrained = retrain(result.sweep_id, tracking_uri=client.tracking_uri)
    assert retrained.info.status == RunStatus.FINISHED
    assert retrained.data.params == best.data.params  # suggest_* gave the best trial's values
    assert retrained.data.metrics["score"] == best.data.metrics["score"]


def test_resume_replays_trials_with_define_by_run_params(tmp_path: Path) -> None:
    result, client, trials = define_by_run(tmp_path, budget={"trials": 4}, seed=2)
    assert [run.info.status for run in trials] == [RunStatus.FINISHED] * 4
    resumed = resume_sweep(
        result.sweep_id,
        tracking_uri=client.tracking_uri,
        overrides=["budget.trials=6"],
        progress=False,
    )
    trials = trial_runs(client, client.get_run(resumed.sweep_id))
    assert [int(run.data.tags[T.TRIAL_NUMBER]) for run in trials] == list(range(6))
    assert [run.info.status for run in trials] == [RunStatus.FINISHED] * 6
    for run in trials:
        check_define_by_run_trial(run)
