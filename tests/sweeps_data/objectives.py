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


def held(params, trial):
    """Like ``sleepy``, but trial number ``$TT_HOLD_TRIAL`` then waits (at most 2 min) for
    the file ``$TT_SWEEP_MARKERS/release``: the test acts on the running trial meanwhile."""
    _mark_start(trial)
    time.sleep(params["delay"])
    if str(trial.number) == os.environ.get("TT_HOLD_TRIAL"):
        release = Path(os.environ["TT_SWEEP_MARKERS"], "release")
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return -((params["x"] - 0.3) ** 2)


def misspelled_metric(params):
    """Return the sweep's metric ``score`` misspelled as ``scroe``: every trial fails."""
    return {"scroe": float(params["x"])}


def fails_after_reporting(params, trial):
    """Report ``score`` for three steps, then fail when ``kind`` is ``bad``."""
    for step in range(3):
        trial.report(0.123 + step, step)
    if params["kind"] == "bad":
        raise RuntimeError(f"diverged at step {3} (x={params['x']})")
    return float(params["x"])


def replaces_sweep_artifacts(params, trial):
    """Trial 1 replaces the sweep's artifact directory with a file, as a careless cleanup
    in another process might: the sweep's summary cannot be written."""
    import shutil

    if trial.number == 1:
        parent = tunetrack.active_run().client.get_run(trial.sweep_id)
        folder = Path(parent.info.artifact_uri.removeprefix("file://"))
        shutil.rmtree(folder)
        folder.write_text("not a directory")
    return float(params["x"])


def deletes_its_experiment(params, trial):
    """Trial 0 deletes the sweep's experiment (and so every run in it) while it runs."""
    if trial.number == 0:
        client = tunetrack.active_run().client
        client.delete_experiment(client.get_run(trial.run_id).info.experiment_id)
    return float(params["x"])
