"""Objective for sweeps/breast_cancer_xgb.yaml: XGBoost on breast_cancer with pruning.

Every boosting round's validation log loss is reported to the sweep (a step metric on the
trial's run, and the value the median pruner compares). A callback stops boosting as soon
as the pruner says so, and the objective then raises ``TrialPruned``.
"""

import tempfile
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunetrack
from tunetrack.sweep.trial import TrialPruned


class ReportAndPrune(xgb.callback.TrainingCallback):
    """Report ``val``'s log loss after each round; stop training when the trial is pruned."""

    def __init__(self, trial):
        self.trial = trial
        self.pruned = False
        self.last_loss = float("nan")

    def after_iteration(self, model, epoch, evals_log):
        self.last_loss = evals_log["val"]["logloss"][-1]
        self.trial.report(self.last_loss, step=epoch + 1)  # step = boosting rounds done
        self.pruned = self.trial.should_prune()
        return self.pruned  # True stops xgboost.train


def train(params, trial):
    """Train a booster with ``params``; return validation log loss and accuracy."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dval = xgb.DMatrix(X_val, label=y_val)
    booster_params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "max_depth": params["max_depth"],
        "eta": params["eta"],
        "subsample": params["subsample"],
        "colsample_bytree": params["colsample_bytree"],
        "min_child_weight": params["min_child_weight"],
        "nthread": 1,  # one core per trial, so parallel trials do not oversubscribe
        "seed": 0,
    }
    callback = ReportAndPrune(trial)
    booster = xgb.train(
        booster_params,
        dtrain,
        num_boost_round=params["num_boost_round"],
        evals=[(dval, "val")],
        callbacks=[callback],
        verbose_eval=False,
    )
    if callback.pruned:
        raise TrialPruned()

    accuracy = float(np.mean((booster.predict(dval) > 0.5) == y_val))
    if trial.mode == "retrain":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.ubj"
            booster.save_model(path)
            tunetrack.log_artifact(str(path))
    return {"val_logloss": float(callback.last_loss), "val_accuracy": accuracy}
