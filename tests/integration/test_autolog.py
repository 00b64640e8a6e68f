"""scikit-learn autologging against a real SQLite store, on real data.

Every test tracks into its own ``sqlite:///{tmp_path}/t.db`` with
``TUNETRACK_AUTOLOG_TESTING=true`` (our logging failures raise), and autolog is disabled
afterwards. XGBoost lives in ``test_autolog_xgboost.py``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tunetrack
from tunetrack.autologging import AutologWarning, autolog
from tunetrack.autologging import sklearn as autolog_sklearn
from tunetrack.entities import Run, RunStatus
from tunetrack.errors import Conflict, StoreError
from tunetrack.models import load_model, load_model_and_manifest
from tunetrack.tracking import fluent
from tunetrack.tracking.client import Client

Data = tuple[Any, ...]  # (X, y) or (X_train, y_train, X_val, y_val)

pytestmark = pytest.mark.usefixtures("autolog_tracking")


@pytest.fixture(scope="module")
def cancer() -> Data:
    return load_breast_cancer(return_X_y=True, as_frame=True)


def all_runs() -> list[Run]:
    return tunetrack.search_runs(output_format="list")


def only_run() -> Run:
    runs = all_runs()
    assert len(runs) == 1, [r.data.tags.get("estimator_name") for r in runs]
    return runs[0]


def read_artifact(run: Run, path: str) -> bytes:
    return (Path(Client().download_artifacts(run.info.run_id, path))).read_bytes()


def test_random_forest_logs_params_metrics_importances_model_and_digest(cancer: Data) -> None:
    X, y = cancer
    autolog()
    rf = RandomForestClassifier(n_estimators=20, random_state=0)
    assert rf.fit(X, y) is rf
    run = only_run()
    assert run.info.status == RunStatus.FINISHED
    data = run.data
    assert dict(data.params) == {k: str(v) for k, v in rf.get_params(deep=True).items()}
    assert data.tags["estimator_name"] == "RandomForestClassifier"
    assert data.tags["estimator_class"] == "sklearn.ensemble._forest.RandomForestClassifier"

    pred, proba = rf.predict(X), rf.predict_proba(X)
    expected = {
        "training_accuracy": skm.accuracy_score(y, pred),
        "training_precision": skm.precision_score(y, pred),
        "training_recall": skm.recall_score(y, pred),
        "training_f1": skm.f1_score(y, pred),
        "training_log_loss": skm.log_loss(y, proba),
        "training_roc_auc": skm.roc_auc_score(y, proba[:, 1]),
    }
    for key, value in expected.items():
        assert data.metrics[key] == pytest.approx(value, abs=1e-12), key

    names = list(X.columns)
    importances = dict(zip(names, rf.feature_importances_, strict=True))
    top = sorted(names, key=lambda n: -importances[n])[:20]
    logged = {
        k[len("importance.") :]: v for k, v in data.metrics.items() if k.startswith("importance.")
    }
    assert set(logged) == set(top)
    assert all(logged[n] == pytest.approx(importances[n]) for n in top)
    doc = json.loads(read_artifact(run, "feature_importances.json"))
    assert doc["source"] == "feature_importances_"
    assert doc["importances"] == pytest.approx(importances)
    assert read_artifact(run, "feature_importances.png")[:8] == b"\x89PNG\r\n\x1a\n"

    model, manifest = load_model_and_manifest(f"runs:/{run.info.run_id}/model")
    assert type(model) is RandomForestClassifier
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert [c.name for c in manifest.signature.inputs] == names

    dataset = json.loads(read_artifact(run, "dataset.json"))
    assert data.tags["dataset.digest"] == dataset["digest"]
    assert len(dataset["digest"]) == 64
    assert data.tags["dataset.shape"] == "569x30"
    assert dataset["columns"] == names
    assert dataset["shape"] == [569, 30]
    rf.fit(X.iloc[:300], y.iloc[:300])  # other data, other digest
    second = next(r for r in all_runs() if r.info.run_id != run.info.run_id)
    assert second.data.tags["dataset.digest"] != dataset["digest"]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("make", "load"),
    [
        (lambda: LogisticRegression(max_iter=5000), load_iris),  # multiclass
        (lambda: DecisionTreeClassifier(max_depth=2, random_state=0), load_breast_cancer),
        (lambda: RandomForestRegressor(n_estimators=5, random_state=0), load_diabetes),
        (LinearRegression, load_diabetes),
    ],
)
def test_metric_set_matches_sklearn_metrics(
    make: Callable[[], Any], load: Callable[..., Any], weighted: bool
) -> None:
    X, y = load(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.1, 2.0, len(y)) if weighted else None
    est = make().fit(X, y)
    ours, _ = autolog_sklearn._metric_values(est, X, y, w)
    pred = est.predict(X)
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        multi = proba.shape[1] > 2
        avg = "weighted" if multi else "binary"
        expected = {
            "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
            "precision": skm.precision_score(y, pred, average=avg, sample_weight=w),
            "recall": skm.recall_score(y, pred, average=avg, sample_weight=w),
            "f1": skm.f1_score(y, pred, average=avg, sample_weight=w),
            "log_loss": skm.log_loss(y, proba, sample_weight=w),
            "roc_auc": skm.roc_auc_score(
                y,
                proba if multi else proba[:, 1],
                multi_class="ovr",
                average="weighted",
                sample_weight=w,
            ),
        }
    else:
        expected = {
            "mse": skm.mean_squared_error(y, pred, sample_weight=w),
            "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
            "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
            "r2": skm.r2_score(y, pred, sample_weight=w),
        }
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_pipeline_logs_one_run_with_coef_importances(cancer: Data) -> None:
    X, y = cancer
    autolog()
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000))])
    pipe.fit(X, y)
    run = only_run()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert {"lr__C", "scale__with_mean"} <= set(run.data.params)
    coef = np.abs(pipe[-1].coef_).mean(axis=0)
    top = X.columns[np.argsort(-coef)[:20]]
    assert {f"importance.{n}" for n in top} <= set(run.data.metrics)
    doc = json.loads(read_artifact(run, "feature_importances.json"))
    assert doc["source"] == "coef_"
    assert len(doc["importances"]) == 30
    assert run.data.metrics["training_accuracy"] == pytest.approx(pipe.score(X, y))
    loaded = load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_grid_search_logs_parent_and_one_child_per_candidate(cancer: Data) -> None:
    X, y = cancer
    autolog()
    grid = {"max_depth": [1, 2, 3, 4], "min_samples_leaf": [1, 5, 20]}
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3).fit(X, y)
    runs = all_runs()
    parents = [r for r in runs if r.info.parent_run_id is None]
    assert len(parents) == 1
    assert len(runs) == 13
    parent = parents[0]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(children) == 12
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    for name, value in search.best_params_.items():
        assert parent.data.params[f"best_{name}"] == str(value)
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    results = search.cv_results_
    for child in children:
        i = results["params"].index(
            {k: int(v) for k, v in child.data.params.items()}  # the candidate's params
        )
        for stat in ("mean_test_score", "std_test_score", "rank_test_score"):
            assert child.data.metrics[stat] == pytest.approx(float(results[stat][i]))
        assert child.info.status == RunStatus.FINISHED
    best = load_model(f"runs:/{parent.info.run_id}/model")
    assert best.get_params() == search.best_estimator_.get_params()


def test_max_tuning_runs_keeps_the_best_ranked(cancer: Data) -> None:
    X, y = cancer
    autolog(max_tuning_runs=3, log_models=False)
    grid = {"max_depth": [1, 2, 3, 4, 6]}
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3).fit(X, y)
    children = [r for r in all_runs() if r.info.parent_run_id is not None]
    assert len(children) == 3
    ranks = sorted(search.cv_results_["rank_test_score"])[:3]
    assert sorted(c.data.metrics["rank_test_score"] for c in children) == ranks


def test_halving_search_is_logged_once_with_children(cancer: Data) -> None:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = cancer
    autolog(log_models=False)
    search = HalvingGridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": [1, 2, 3, 4]},
        cv=3,
        random_state=0,
    ).fit(X, y)
    runs = all_runs()
    parent = next(r for r in runs if r.info.parent_run_id is None)
    assert parent.data.tags["estimator_name"] == "HalvingGridSearchCV"
    assert len(runs) == 1 + len(search.cv_results_["params"])


def test_fit_transform_and_fit_predict_log_once_and_keep_availability() -> None:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    X, _ = load_iris(return_X_y=True)
    autolog(log_models=False)
    PCA(n_components=2).fit_transform(X)
    KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)
    Pipeline([("a", StandardScaler()), ("b", StandardScaler())]).fit_transform(X)
    names = sorted(r.data.tags["estimator_name"] for r in all_runs())
    assert names == ["KMeans", "PCA", "Pipeline"]
    assert not any(k.startswith("training_") for r in all_runs() for k in r.data.metrics)
    # sklearn's available_if descriptors still hide what the last step cannot do
    assert not hasattr(Pipeline([("lr", LogisticRegression())]), "fit_transform")


def test_disable_restores_the_original_attributes(cancer: Data) -> None:
    from sklearn.base import TransformerMixin
    from sklearn.ensemble._forest import BaseForest
    from sklearn.model_selection._search import BaseSearchCV

    X, y = cancer
    targets = [
        (BaseForest, "fit"),
        (Pipeline, "fit"),
        (Pipeline, "fit_transform"),
        (BaseSearchCV, "fit"),
        (TransformerMixin, "fit_transform"),
    ]
    originals = [owner.__dict__[name] for owner, name in targets]
    before = RandomForestClassifier.fit
    autolog()
    assert RandomForestClassifier.fit is not before
    assert all(o.__dict__[n] is not orig for (o, n), orig in zip(targets, originals, strict=True))
    autolog(disable=True)
    assert RandomForestClassifier.fit is before
    assert all(o.__dict__[n] is orig for (o, n), orig in zip(targets, originals, strict=True))
    RandomForestClassifier(n_estimators=5).fit(X, y)
    assert all_runs() == []


def test_logging_into_an_active_run(cancer: Data) -> None:
    X, y = cancer
    autolog(log_models=False)
    with tunetrack.start_run() as active:
        LogisticRegression(solver="liblinear").fit(X, y)
        assert tunetrack.active_run() is active
    run = only_run()
    assert run.info.run_id == active.info.run_id
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert "training_accuracy" in run.data.metrics


def test_store_failure_becomes_one_warning_and_the_fit_still_returns(
    cancer: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = cancer
    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "false")
    autolog()

    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("disk on fire")

    monkeypatch.setattr(Client, "log_batch", broken)
    rf = RandomForestClassifier(n_estimators=5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert rf.fit(X, y) is rf
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "disk on fire" in str(ours[0].message)
    assert ours[0].filename == __file__  # points at the user's fit call
    assert rf.predict(X[:3]).shape == (3,)  # fitted
    assert tunetrack.active_run() is None  # the run was still ended


def test_fit_error_propagates_unchanged_and_fails_the_run(cancer: Data) -> None:
    X, y = cancer
    bad = X.astype(object)
    bad.iloc[0, 0] = "not a number"
    with pytest.raises(ValueError, match="could not convert") as plain:
        RandomForestClassifier(n_estimators=5).fit(bad, y)
    autolog()
    with pytest.raises(ValueError, match="could not convert") as logged:
        RandomForestClassifier(n_estimators=5).fit(bad, y)
    assert type(logged.value) is type(plain.value)
    assert str(logged.value) == str(plain.value)
    run = only_run()
    assert run.info.status == RunStatus.FAILED
    assert run.data.params["n_estimators"] == "5"
    assert tunetrack.active_run() is None


def test_eval_metrics_logs_held_out_metrics_to_the_models_run(cancer: Data) -> None:
    X, y = cancer
    autolog(log_models=False)
    model = LogisticRegression(solver="liblinear").fit(X[:400], y[:400])
    found = autolog_sklearn.eval_metrics(model, X[400:], y[400:])
    assert found["val_accuracy"] == pytest.approx(model.score(X[400:], y[400:]))
    assert set(found) == {
        f"val_{k}" for k in ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc")
    }
    run = only_run()
    assert run.data.metrics["val_roc_auc"] == pytest.approx(found["val_roc_auc"])


def test_long_param_values_are_truncated_with_a_note() -> None:
    from sklearn.dummy import DummyClassifier

    autolog(log_models=False)
    DummyClassifier(constant="x" * 7000).fit(np.ones((3, 2)), [0, 1, 1])
    run = only_run()
    assert len(run.data.params["constant"]) == 6000
    assert run.data.params["constant"].endswith("(truncated)")
    assert run.data.tags["tunetrack.autolog.truncated_params"] == "constant"


def test_nested_fits_under_autolog_started_run_do_not_log_twice(cancer: Data) -> None:
    from sklearn.ensemble import StackingClassifier

    X, y = cancer
    autolog(log_models=False, log_importances=False)
    StackingClassifier(
        [("a", DecisionTreeClassifier(max_depth=2)), ("b", LogisticRegression(solver="liblinear"))],
        cv=2,
    ).fit(X, y)
    assert only_run().data.tags["estimator_name"] == "StackingClassifier"


def test_two_fits_in_one_run_keep_first_params_and_log_both_models(
    cancer: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = cancer
    autolog(log_importances=False, log_datasets=False)
    with tunetrack.start_run():
        DecisionTreeClassifier(max_depth=2).fit(X, y)
        with pytest.raises(Conflict, match="max_depth"):  # testing mode raises the clash
            DecisionTreeClassifier(max_depth=3).fit(X, y)
        monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "false")
        with pytest.warns(AutologWarning, match="max_depth") as caught:
            second = DecisionTreeClassifier(max_depth=4).fit(X, y)
    assert len(caught) == 1
    run = only_run()
    assert run.data.params["max_depth"] == "2"
    paths = {f.path for f in Client().list_artifacts(run.info.run_id)}
    assert {"model", "model_2"} <= paths
    loaded = load_model(f"runs:/{run.info.run_id}/model_2")
    assert loaded.get_depth() == second.get_depth()


def test_tunetrack_autolog_is_callable_and_silent_mode_hides_failures(
    cancer: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tunetrack

    X, y = cancer
    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "false")
    tunetrack.autolog(silent=True, log_models=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("disk on fire")

    monkeypatch.setattr(Client, "log_batch", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        fitted = DecisionTreeClassifier(max_depth=2).fit(X, y)
    assert fitted.get_depth() == 2  # the user's fit is untouched by the failed logging


def test_threads_log_their_own_runs(cancer: Data) -> None:
    from concurrent.futures import ThreadPoolExecutor

    X, y = cancer
    autolog(log_models=False, log_importances=False)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda d: DecisionTreeClassifier(max_depth=d).fit(X, y), [1, 2, 3, 4]))
    depths = sorted(r.data.params["max_depth"] for r in all_runs())
    assert depths == ["1", "2", "3", "4"]


def test_a_run_that_cannot_start_leaves_the_fit_alone(
    cancer: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = cancer
    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "false")
    autolog()

    def broken(**kwargs: object) -> None:
        raise StoreError("no database")

    start_run = fluent.start_run
    monkeypatch.setattr(fluent, "start_run", broken)
    with pytest.warns(AutologWarning, match="no database") as caught:
        tree = DecisionTreeClassifier(max_depth=2).fit(X, y)
    assert len(caught) == 1
    assert tree.get_depth() == 2
    monkeypatch.setattr(fluent, "start_run", start_run)
    assert all_runs() == []
