"""Cheap deterministic objectives for the sweep tests (copied next to each test's sweep YAML).

Each function is named by a sweep file as ``objectives.py:<function>``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import tunetrack
from tunetrack.sweep.trial import TrialPruned


def _mark_start(trial) -> None:
    """Touch ``$TT_SWEEP_MARKERS/<number>`` when the test asks to see trials start."""
    folder = os.environ.get("TT_SWEEP_MARKERS")
    if folder:
        Path(folder, str(trial.number)).touch()


def quadratic(params, trial):
    """Maximise ``score`` (best at x=0.3, k=0); ``size`` = k, for constraints;
    ``retrain_mode`` = 1 when the objective ran with ``trial.mode == "retrain"``."""
    score = -((params["x"] - 0.3) ** 2) - 0.01 * params["k"]
    retrain = 1.0 if trial.mode == "retrain" else 0.0
    return {"score": score, "size": float(params["k"]), "retrain_mode": retrain}


def fluent_tag(params, trial):
    """Log through the fluent API (as autolog does) inside the trial's active run."""
    tunetrack.set_tag("objective.mode", trial.mode)
    tunetrack.log_metric("fluent_metric", params["x"], step=0)
    return float(params["x"])


def plain(params):
    """A one-argument objective returning a number: the sweep's only metric."""
    return float(params["x"])


def fail_on_bad(params):
    """Raise ValueError for kind == 'bad'."""
    if params["kind"] == "bad":
        raise ValueError(f"kind {params['kind']!r} is not supported")
    return float(params["x"])


def always_fail(params):
    """Every trial fails."""
    raise ValueError("this objective always fails")


def missing_metric(params):
    """Return a dict without the sweep's metric."""
    return {"other": 1.0}


def nan_metric(params):
    """Return NaN as the metric."""
    return float("nan")


def stepwise(params, trial):
    """Report ``x`` (slightly rising) for 20 steps; obey the pruner before the last one."""
    x = params["x"]
    for step in range(20):
        time.sleep(0.02)
        trial.report(x + 0.001 * step, step)
        if step < 19 and trial.should_prune():
            raise TrialPruned()
    return x + 0.02


def sleepy(params, trial):
    """Sleep ``params['delay']`` seconds, then return a quadratic score."""
    _mark_start(trial)
    time.sleep(params["delay"])
    return -((params["x"] - 0.3) ** 2)


def two_metrics(params):
    """Two conflicting goals: maximise ``acc``, minimise ``cost``."""
    x = params["x"]
    return {"acc": 1.0 - math.exp(-3.0 * x), "cost": x * x}
