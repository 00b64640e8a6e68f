"""Autolog records the user's fits: not scikit-learn's helpers, not data transformers, and
one model per estimator object however often it is refitted (warm start).

Testing mode is on (``autolog_tracking``): a logging failure, a param ``Conflict``
included, raises instead of warning.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_selection import SelectKBest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tunetrack
from tunetrack.autologging import autolog
from tunetrack.entities import Run
from tunetrack.models import load_model
from tunetrack.tracking.client import Client

pytestmark = pytest.mark.usefixtures("autolog_tracking")


@pytest.fixture(scope="module")
def cancer() -> tuple[Any, Any]:
    return load_breast_cancer(return_X_y=True)


def model_paths(run: Run) -> list[str]:
    tags = run.data.tags
    suffix = ".flavor"
    return sorted(
        k.removeprefix("tunetrack.model.")[: -len(suffix)] for k in tags if k.endswith(suffix)
    )


def all_runs() -> list[Run]:
    return tunetrack.search_runs(output_format="list")


def test_log_loss_inside_a_run_adds_no_model_and_keeps_the_estimator_tags(cancer) -> None:
    X, y = cancer
    autolog(log_importances=False)
    with tunetrack.start_run() as run:
        model = DecisionTreeClassifier(max_depth=3).fit(X, y)
        before = Client().get_run(run.info.run_id).data.tags
        log_loss(y, model.predict_proba(X))
    after = Client().get_run(run.info.run_id)
    assert model_paths(after) == ["model"]
    for key in ("estimator_name", "estimator_class", "dataset.digest", "dataset.shape"):
        assert after.data.tags[key] == before[key]
    assert after.data.tags["estimator_name"] == "DecisionTreeClassifier"


def test_fits_inside_sklearn_functions_are_not_logged(cancer) -> None:
    X, y = cancer
    autolog(log_importances=False)
    cross_val_score(DecisionTreeClassifier(max_depth=2), X, y, cv=3)
    assert all_runs() == []  # no run per fold


def test_a_scaler_is_never_the_runs_model(cancer) -> None:
    X, y = cancer
    autolog(log_importances=False)
    StandardScaler().fit(X)  # alone: not recorded
    assert all_runs() == []
    with tunetrack.start_run() as run:
        scaled = StandardScaler().fit_transform(X)
        LogisticRegression(max_iter=2000).fit(scaled, y)
        StandardScaler().fit(X)  # after the model: does not overwrite its tags
    logged = Client().get_run(run.info.run_id)
    assert model_paths(logged) == ["model"]
    assert logged.data.tags["estimator_name"] == "LogisticRegression"
    assert type(load_model(f"runs:/{run.info.run_id}/model")).__name__ == "LogisticRegression"


@pytest.mark.parametrize(
    "make_transformer",
    [
        pytest.param(lambda X, y: SimpleImputer().fit(X), id="impute"),
        pytest.param(lambda X, y: SelectKBest(k=5).fit(X, y), id="feature_selection"),
        pytest.param(
            lambda X, y: DictVectorizer().fit([{"a": 1.0}, {"b": 2.0}]), id="feature_extraction"
        ),
        pytest.param(lambda X, y: OneHotEncoder().fit(y.reshape(-1, 1)), id="preprocessing"),
    ],
)
def test_a_data_transformer_of_any_excluded_package_is_never_the_runs_model(
    cancer, make_transformer
) -> None:
    """Imputers, feature selectors and vectorizers are left out like scalers (MLflow leaves
    sklearn.preprocessing, impute, feature_extraction and feature_selection unpatched)."""
    X, y = cancer
    autolog(log_importances=False)
    make_transformer(X, y)  # alone: not recorded
    assert all_runs() == []
    with tunetrack.start_run() as run:
        LogisticRegression(max_iter=2000).fit(StandardScaler().fit_transform(X), y)
        make_transformer(X, y)  # after the model: does not replace it or its tags
    logged = Client().get_run(run.info.run_id)
    assert model_paths(logged) == ["model"]
    assert logged.data.tags["estimator_name"] == "LogisticRegression"
    assert type(load_model(f"runs:/{run.info.run_id}/model")).__name__ == "LogisticRegression"


def test_a_warm_start_refit_loop_keeps_one_model_the_last(cancer) -> None:
    X, y = cancer
    autolog(log_importances=False)
    model = HistGradientBoostingClassifier(warm_start=True, early_stopping=False, max_iter=5)
    with tunetrack.start_run() as run:
        for n in (5, 10, 15):
            model.set_params(max_iter=n)
            model.fit(X, y)  # testing mode: a param Conflict would raise here
    logged = Client().get_run(run.info.run_id)
    assert model_paths(logged) == ["model"]
    assert [f.path for f in Client().list_artifacts(run.info.run_id) if f.is_dir] == ["model"]
    assert load_model(f"runs:/{run.info.run_id}/model").n_iter_ == 15
    assert logged.data.params["max_iter"] == "5"  # params are immutable: the first fit's
    history = json.loads(logged.data.tags["tunetrack.autolog.refits"])
    assert history == {"fits": 3, "params": {"max_iter": [5, 10, 15]}}
    steps = Client().get_metric_history(run.info.run_id, "training_accuracy")
    assert [m.step for m in steps] == [0, 1, 2]  # one point per fit
