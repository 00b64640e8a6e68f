"""Objective for sweeps/wine_grid.yaml: k-nearest neighbours on wine, every grid point."""

from sklearn.datasets import load_wine
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tunetrack


def train(params):
    """Return the mean and spread of 5-fold accuracy (the objective needs no trial handle)."""
    X, y = load_wine(return_X_y=True)
    model = make_pipeline(
        StandardScaler(),
        KNeighborsClassifier(
            n_neighbors=params["n_neighbors"], weights=params["weights"], p=params["p"]
        ),
    )
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    with tunetrack.autolog.paused():  # one trial, not five logged folds
        scores = cross_val_score(model, X, y, cv=cv)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}
