"""What a sweep optimises and how, as plain data: the method names, the goals (a metric and
its direction) and the early-stopping spec. The config validates into these and the search
strategies (:mod:`tunetrack.sweep.strategies`) consume them; nothing here imports optuna.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["METHODS", "MULTI_OBJECTIVE_METHODS", "PRUNER_TYPES", "Goal", "PrunerSpec"]

METHODS = ("grid", "random", "tpe", "cmaes", "gp", "nsga2", "hyperopt-tpe", "hyperopt-random")
MULTI_OBJECTIVE_METHODS = ("nsga2",)
PRUNER_TYPES = ("median", "hyperband", "successive_halving", "none")


@dataclass(frozen=True)
class Goal:
    """A metric to optimise and its direction."""

    name: str
    direction: Literal["maximize", "minimize"]


@dataclass(frozen=True)
class PrunerSpec:
    """Early stopping: which optuna pruner, after how many steps and trials.

    * **type** - ``median``, ``hyperband``, ``successive_halving`` or ``none``.
    * **min_steps** - warm-up steps (median) or minimum resource (hyperband, halving).
    * **min_trials** - finished trials before the median pruner prunes anything.
    * **max_steps** - hyperband's maximum resource (``None``: inferred from the first trial).
    """

    type: Literal["median", "hyperband", "successive_halving", "none"]
    min_steps: int = 1
    min_trials: int = 5
    max_steps: int | None = None
