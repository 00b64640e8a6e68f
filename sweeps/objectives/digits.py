"""Objective for sweeps/digits_pareto.yaml: accuracy against model size on digits.

Two metrics pull in opposite directions: bigger forests classify better but take more
space. NSGA-II keeps the trade-off (the Pareto front) rather than a single winner.
"""

import pickle

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split


def train(params, trial):
    """Return holdout accuracy and the pickled model's size in KiB."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        min_samples_leaf=params["min_samples_leaf"],
        max_features=params["max_features"],
        random_state=0,
        n_jobs=1,
    )
    model.fit(X_train, y_train)
    return {
        "accuracy": float(model.score(X_test, y_test)),
        "model_size_kb": len(pickle.dumps(model)) / 1024,
    }
