"""Objectives written the way optuna users write them: define-by-run parameters, user
attributes, optuna's own TrialPruned (copied next to each test's sweep YAML and named as
``trial_api.py:<function>``)."""

from __future__ import annotations

import optuna

import tunetrack


class Enough(optuna.TrialPruned):
    """optuna's TrialPruned under another name: still a pruned trial."""


class TrialPruned(Exception):
    """Only named like a pruning exception: a failed trial."""


def stops_early(params, trial):
    """Raise the exception ``params['how']`` names."""
    how = params["how"]
    if how == "optuna":
        raise optuna.TrialPruned()
    if how == "optuna-subclass":
        raise Enough("enough")
    if how == "tunetrack":
        raise tunetrack.TrialPruned()
    raise TrialPruned("not a pruning exception")


def define_by_run(params, trial):
    """Suggest x, lr, depth and kind beside the declared ``k``; report x for 10 steps and
    obey the pruner; tag the trial through user attributes."""
    x = trial.suggest_float("x", 0.0, 1.0)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    depth = trial.suggest_int("depth", 2, 8, step=2)
    kind = trial.suggest_categorical("kind", ["linear", "tree"])
    assert trial.suggest_float("x", 0.0, 1.0) == x  # asking again gives the same value
    trial.set_user_attr("depth_label", f"d{depth}")
    trial.set_user_attr("config", {"kind": kind, "lr": lr})
    for step in range(10):
        trial.report(x + 0.001 * step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x + 0.01 * params["k"]


def deletes_its_run(params, trial):
    """Delete this trial's run from the store while it runs when ``params['delete']``
    (another process cleaning up, say), then return a score anyway."""
    if params["delete"]:
        tunetrack.active_run().client.delete_run(trial.run_id)
    return 1.0
