"""Objective for sweeps/iris_rf.yaml: a RandomForest on iris, scored by cross-validation."""

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import tunetrack


def train(params, trial):
    """Return the mean 5-fold accuracy of a forest built with ``params``.

    The sweep turns autolog on: the cross-validation folds are fitted with it paused, and
    the final fit on all the data is what the trial's run records (params, training
    metrics, feature importances and the model that ``retrain`` registers).
    """
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        max_features=params["max_features"],
        min_samples_leaf=params["min_samples_leaf"],
        random_state=0,
        n_jobs=1,
    )
    with tunetrack.autolog.paused():
        scores = cross_val_score(model, X, y, cv=5)
    model.fit(X, y)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}
