"""Objective for sweeps/diabetes_hyperopt.yaml: forest regressors on diabetes.

``params["model"]`` picks the estimator; the other keys in ``params`` are that option's own
parameters (only the chosen option's sub-parameters are present).
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.model_selection import KFold, cross_validate

import tunetrack

MODELS = {"rf": RandomForestRegressor, "extra_trees": ExtraTreesRegressor}


def build(params):
    """The estimator ``params`` describe."""
    kwargs = {k: v for k, v in params.items() if k != "model"}
    return MODELS[params["model"]](random_state=0, n_jobs=1, **kwargs)


def train(params, trial):
    """Return 5-fold cross-validated RMSE and R² (and their spread)."""
    data = load_diabetes()
    X, y = data.data, data.target
    model = build(params)
    with tunetrack.autolog.paused():  # the folds are not models of their own
        scores = cross_validate(
            model,
            X,
            y,
            cv=KFold(n_splits=5, shuffle=True, random_state=0),
            scoring=("neg_root_mean_squared_error", "r2"),
        )
    rmse = -scores["test_neg_root_mean_squared_error"]
    if trial.mode == "retrain":
        model.fit(X, y)  # autolog records it: importances, training metrics, the model
    return {
        "rmse": float(np.mean(rmse)),
        "rmse_std": float(np.std(rmse)),
        "r2": float(np.mean(scores["test_r2"])),
    }
