"""XGBoost autologging against a real SQLite store, on real data.

Same isolation as ``test_autolog.py``: a fresh store per test, testing mode on
(``TUNETRACK_AUTOLOG_TESTING=true``), autolog disabled afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import tunetrack
from tunetrack.autologging import autolog, enabled_integrations
from tunetrack.autologging import xgboost as autolog_xgboost
from tunetrack.entities import Run, RunStatus
from tunetrack.models import load_model
from tunetrack.tracking.client import Client

Data = tuple[Any, ...]  # (X, y) or (X_train, y_train, X_val, y_val)

pytestmark = pytest.mark.usefixtures("autolog_tracking")


@pytest.fixture(scope="module")
def split() -> Data:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    val = np.random.default_rng(0).random(len(y)) < 0.25
    return X[~val], y[~val], X[val], y[val]


def all_runs() -> list[Run]:
    return tunetrack.search_runs(output_format="list")


def only_run() -> Run:
    runs = all_runs()
    assert len(runs) == 1, [r.data.tags.get("estimator_name") for r in runs]
    return runs[0]


def read_json(run: Run, path: str) -> Any:
    return json.loads(Path(Client().download_artifacts(run.info.run_id, path)).read_text())


class Recorder(xgb.callback.TrainingCallback):
    """A user's own callback: remembers the rounds it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[int] = []

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.rounds.append(epoch)
        return False


def test_train_with_early_stopping_logs_every_round_best_iteration_importances_model(
    split: Data,
) -> None:
    Xt, yt, Xv, yv = split
    dtrain, dval = xgb.DMatrix(Xt, yt), xgb.DMatrix(Xv, yv)
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "eta": 0.3}
    autolog()
    mine = Recorder()
    callbacks = [mine]
    evals_result: dict = {}
    booster = xgb.train(
        params,
        dtrain,
        200,
        evals=[(dtrain, "train"), (dval, "eval")],
        early_stopping_rounds=5,
        evals_result=evals_result,
        callbacks=callbacks,
        verbose_eval=False,
    )
    rounds = booster.num_boosted_rounds()
    assert rounds < 200  # it stopped early
    assert callbacks == [mine]  # the user's list is not changed
    assert mine.rounds == list(range(rounds))  # and their callback still runs
    run = only_run()
    assert run.info.status == RunStatus.FINISHED
    assert run.data.params["eta"] == "0.3"
    assert run.data.params["num_boost_round"] == "200"
    assert run.data.params["early_stopping_rounds"] == "5"
    client = Client()
    for data in ("train", "eval"):
        for metric in ("logloss", "auc"):
            history = client.get_metric_history(run.info.run_id, f"{data}-{metric}")
            assert [m.step for m in history] == list(range(rounds))
            assert [m.value for m in history] == pytest.approx(evals_result[data][metric])
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["best_score"] == pytest.approx(booster.best_score)
    for kind in ("weight", "gain", "cover"):
        scores = read_json(run, f"feature_importance_{kind}.json")
        assert scores == pytest.approx(booster.get_score(importance_type=kind))
    png = Path(client.download_artifacts(run.info.run_id, "feature_importance.png"))
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert run.data.tags["dataset.shape"] == f"{len(yt)}x30"
    loaded = load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(dval), booster.predict(dval))


def test_xgb_classifier_logs_exactly_one_run_through_xgboost(split: Data) -> None:
    Xt, yt, Xv, yv = split
    autolog()
    assert enabled_integrations() == ["sklearn", "xgboost"]
    mine = Recorder()
    clf = xgb.XGBClassifier(n_estimators=15, max_depth=3, callbacks=[mine])
    assert clf.fit(Xt, yt, eval_set=[(Xv, yv)], verbose=False) is clf
    assert clf.callbacks == [mine]
    assert mine.rounds == list(range(15))
    run = only_run()
    assert run.data.tags["tunetrack.autolog"] == "xgboost"
    assert run.data.tags["estimator_name"] == "XGBClassifier"
    assert run.data.params["n_estimators"] == "15"
    history = Client().get_metric_history(run.info.run_id, "validation_0-logloss")
    assert [m.step for m in history] == list(range(15))
    loaded = load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict_proba(Xv), clf.predict_proba(Xv))


def test_xgb_inside_a_pipeline_is_logged_once_by_sklearn(split: Data) -> None:
    Xt, yt, _, _ = split
    autolog(log_models=False)
    Pipeline([("scale", StandardScaler()), ("xgb", xgb.XGBRegressor(n_estimators=5))]).fit(Xt, yt)
    run = only_run()
    assert run.data.tags["tunetrack.autolog"] == "sklearn"
    assert "training_r2" in run.data.metrics
    assert any(k.startswith("importance.") for k in run.data.metrics)


def test_random_forest_wrapper_logs_its_eval_history(split: Data) -> None:
    Xt, yt, Xv, yv = split
    autolog(log_models=False)
    clf = xgb.XGBRFClassifier(n_estimators=10, max_depth=3)
    clf.fit(Xt, yt, eval_set=[(Xv, yv)], verbose=False)
    assert clf.callbacks is None
    run = only_run()
    assert run.data.tags["estimator_name"] == "XGBRFClassifier"
    assert "validation_0-logloss" in run.data.metrics


def test_disable_restores_xgboost_functions() -> None:
    import xgboost.training

    train, fit = xgb.train, xgb.XGBClassifier.__dict__["fit"]
    autolog()
    assert xgb.train is not train
    assert xgboost.training.train is not train
    autolog_xgboost.autolog(disable=True)
    assert xgb.train is train
    assert xgboost.training.train is train
    assert xgb.XGBClassifier.__dict__["fit"] is fit
    assert enabled_integrations() == ["sklearn"]


def test_training_error_propagates_and_fails_the_run(split: Data) -> None:
    Xt, yt, _, _ = split
    dtrain = xgb.DMatrix(Xt, yt)
    autolog()
    with pytest.raises(xgb.core.XGBoostError, match="objective"):
        xgb.train({"objective": "no:such"}, dtrain, 3)
    run = only_run()
    assert run.info.status == RunStatus.FAILED
    assert run.data.params["objective"] == "no:such"


def test_a_wrong_call_raises_xgboosts_own_error_and_logs_nothing(split: Data) -> None:
    Xt, yt, _, _ = split
    autolog()
    with pytest.raises(TypeError):
        xgb.train({}, xgb.DMatrix(Xt, yt), 3, no_such_argument=1)
    assert all_runs() == []
