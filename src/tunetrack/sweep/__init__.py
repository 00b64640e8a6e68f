"""Sweeps: search spaces, search strategies and the trial runner.

The public face, for notebooks and scripts (everything loads on first use)::

    import tunetrack.sweep

    result = tunetrack.sweep.run(train, metric={"name": "accuracy", "goal": "maximize"},
                                 parameters={...}, budget={"trials": 20})
    result.best, result.trials, result.retrain()

    tunetrack.sweep.load("sweep.yaml").run()        # a sweep file
    tunetrack.sweep.load(SWEEP_ID).resume()         # a stored sweep
    tunetrack.sweep.result(SWEEP_ID)                # what a stored sweep came to
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunetrack._lazy import lazy_attributes

_LAZY = {
    "BestTrial": "tunetrack.sweep.results",
    "Sweep": "tunetrack.sweep.api",
    "SweepConfig": "tunetrack.sweep.config",
    "SweepConfigError": "tunetrack.sweep.config",
    "SweepResult": "tunetrack.sweep.results",
    "Trial": "tunetrack.sweep.trial",
    "TrialPruned": "tunetrack.sweep.trial",
    "build_sweep_config": "tunetrack.sweep.config",
    "load": "tunetrack.sweep.api",
    "result": "tunetrack.sweep.api",
    "run": "tunetrack.sweep.api",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from tunetrack.sweep.api import Sweep, load, result, run  # noqa: F401
    from tunetrack.sweep.config import (  # noqa: F401
        SweepConfig,
        SweepConfigError,
        build_sweep_config,
    )
    from tunetrack.sweep.results import BestTrial, SweepResult  # noqa: F401
    from tunetrack.sweep.trial import Trial, TrialPruned  # noqa: F401


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
