"""Objective for sweeps/iris_rf.yaml: a RandomForest on iris, scored by cross-validation."""

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score


def train(params, trial):
    """Return the mean 5-fold accuracy of a forest built with ``params``."""
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        max_features=params["max_features"],
        min_samples_leaf=params["min_samples_leaf"],
        random_state=0,
        n_jobs=1,
    )
    scores = cross_val_score(model, X, y, cv=5)
    if trial.mode == "retrain":
        model.fit(X, y)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}
