"""A search space compiled for optuna: define-by-run suggestions, distributions and params
in optuna's labels. optuna is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from tunetrack.sweep._space_checks import ChoiceKey
from tunetrack.sweep._space_points import branch_prefix, check_params, walk
from tunetrack.sweep._space_types import (
    Categorical,
    Choice,
    Distribution,
    Fixed,
    Float,
    Int,
    SearchSpace,
)

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial


def suggest(trial: BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Suggest a point define-by-run; sub-parameters only under their chosen option."""
    params: dict[str, Any] = {}
    _suggest_into(trial, space, "", params)
    return params


def _suggest_into(trial: BaseTrial, space: SearchSpace, prefix: str, out: dict[str, Any]) -> None:
    for name, dist in space.items():
        label = prefix + name
        if isinstance(dist, Fixed):
            out[name] = dist.value
        elif isinstance(dist, Float):
            value = trial.suggest_float(label, dist.low, dist.high, step=dist.step, log=dist.log)
            out[name] = dist.nearest(value) if dist.step is not None else value
        elif isinstance(dist, Int):
            out[name] = trial.suggest_int(label, dist.low, dist.high, step=dist.step, log=dist.log)
        elif isinstance(dist, Categorical):
            out[name] = trial.suggest_categorical(label, dist.choices)
        else:
            # optuna types the answer as any categorical value; it is one of dist.choices
            key = cast(ChoiceKey, trial.suggest_categorical(label, dist.choices))
            out[name] = key
            _suggest_into(trial, dist.options[key], branch_prefix(label, key), out)


def _optuna_distribution(dist: Distribution) -> BaseDistribution:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, Float):
        return FloatDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, Int):
        return IntDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, Categorical | Choice):
        return CategoricalDistribution(dist.choices)
    raise TypeError(f"{dist!r} has no optuna distribution")


def optuna_distributions(
    space: SearchSpace, params: Mapping[str, Any]
) -> dict[str, BaseDistribution]:
    """optuna distributions of the point ``params``, by label (for ``create_trial``)."""
    check_params(space, params)
    return {
        label: _optuna_distribution(dist)
        for label, _, dist in walk(space, params)
        if not isinstance(dist, Fixed)
    }


def to_optuna_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """The flat point ``params`` keyed by optuna label (for ``enqueue_trial``/``add_trial``)."""
    check_params(space, params)
    return {
        label: params[name]
        for label, name, dist in walk(space, params)
        if not isinstance(dist, Fixed)
    }
