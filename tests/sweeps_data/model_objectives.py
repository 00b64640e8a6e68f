"""Objectives that fit more than one scikit-learn object per trial, with no logging code.

Autolog records them; the tests check that retrain registers the model that produced
the trial's result. Each function is named by a sweep file as
``model_objectives.py:<function>`` (the file is copied next to the test's sweep YAML).
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def _split():  # type: ignore[no-untyped-def]
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def scaled_logreg(params):  # type: ignore[no-untyped-def]
    """A scaler fitted on its own, then a LogisticRegression; sklearn's log_loss scores it."""
    X_train, X_test, y_train, y_test = _split()
    scaler = StandardScaler().fit(X_train)
    model = LogisticRegression(C=params["C"], max_iter=2000)
    model.fit(scaler.transform(X_train), y_train)
    proba = model.predict_proba(scaler.transform(X_test))
    return {
        "accuracy": model.score(scaler.transform(X_test), y_test),
        "log_loss": log_loss(y_test, proba),
    }


def staged_boosting(params, trial):  # type: ignore[no-untyped-def]
    """One warm-started HistGradientBoosting grown 10 iterations per stage, scored per
    stage; the returned accuracy is the last stage's, so the model that made it has
    ``n_iter_ == 10 * params["stages"]``."""
    X_train, X_test, y_train, y_test = _split()
    model = HistGradientBoostingClassifier(
        warm_start=True,
        early_stopping=False,
        learning_rate=params["learning_rate"],
        max_iter=10,
        random_state=0,
    )
    accuracy = 0.0
    for stage in range(1, params["stages"] + 1):
        model.set_params(max_iter=10 * stage)
        model.fit(X_train, y_train)
        accuracy = model.score(X_test, y_test)
        trial.report(accuracy, step=stage)
    return {"accuracy": accuracy}


def _forest_and_logreg(params):  # type: ignore[no-untyped-def]
    """Fit a forest, then a LogisticRegression; the forest's accuracy is the result."""
    X_train, X_test, y_train, y_test = _split()
    forest = RandomForestClassifier(n_estimators=params["n_estimators"], random_state=0)
    forest.fit(X_train, y_train)
    LogisticRegression(max_iter=50).fit(StandardScaler().fit_transform(X_train), y_train)
    return forest, {"accuracy": forest.score(X_test, y_test)}


def forest_named_by_trial(params, trial):  # type: ignore[no-untyped-def]
    """Two fits; the objective names the forest with ``trial.log_model``."""
    forest, result = _forest_and_logreg(params)
    trial.log_model(forest)
    return result


def forest_returned(params):  # type: ignore[no-untyped-def]
    """Two fits; the objective returns the forest under the result's ``model`` key."""
    forest, result = _forest_and_logreg(params)
    return {**result, "model": forest}


def forest_unnamed(params):  # type: ignore[no-untyped-def]
    """Two fits and no model named: retrain takes the last fit (the LogisticRegression)."""
    return _forest_and_logreg(params)[1]


def pruned_boosting(params, trial):  # type: ignore[no-untyped-def]
    """:func:`staged_boosting` asking the sweep's pruner after every stage: a trial whose
    accuracy falls below the median of the finished ones at the same stage is pruned."""
    from tunetrack.sweep.trial import TrialPruned

    X_train, X_test, y_train, y_test = _split()
    model = HistGradientBoostingClassifier(
        warm_start=True,
        early_stopping=False,
        learning_rate=params["learning_rate"],
        max_iter=10,
        random_state=0,
    )
    accuracy = 0.0
    for stage in range(1, params["stages"] + 1):
        model.set_params(max_iter=10 * stage)
        model.fit(X_train, y_train)
        accuracy = model.score(X_test, y_test)
        trial.report(accuracy, step=stage)
        if trial.should_prune():
            raise TrialPruned()
    return {"accuracy": accuracy}
