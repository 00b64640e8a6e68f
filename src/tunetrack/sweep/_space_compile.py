"""Points of a search space, and the space compiled for optuna, hyperopt and grid search.

Parameters the user sees are a *flat* dict; inside optuna and hyperopt a sub-parameter is
labelled by its choice path (``"model=rf/min_samples_leaf"``). optuna and hyperopt are
imported inside the functions that need them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from tunetrack.sweep._space_checks import ChoiceKey, Path, SpaceError, is_int, key_label
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

MAX_GRID_POINTS = 100_000

# ----------------------------------------------------------------------------- points


def _match(choices: tuple[Any, ...], value: object) -> Any:
    """The choice equal to ``value`` with the same type (``True`` does not match ``1``)."""
    for choice in choices:
        if type(choice) is type(value) and choice == value:
            return choice
    raise LookupError(value)


def check_params(space: SearchSpace, params: Mapping[str, Any]) -> None:
    """Raise :class:`SpaceError` unless ``params`` (flat) is a point of ``space``.

    Each active parameter must be present with the right type and in bounds, and a
    sub-parameter must appear exactly when its option is chosen.
    """
    active: set[str] = set()
    _check_point(space, params, active, ())
    for name in params:
        if name not in active:
            raise SpaceError(
                (name,), f"unexpected parameter {name!r} (not active for the chosen options)"
            )


def _check_point(
    space: SearchSpace, params: Mapping[str, Any], active: set[str], path: Path
) -> None:
    for name, dist in space.items():
        where = (*path, name)
        active.add(name)
        if name not in params:
            raise SpaceError(where, "missing")
        value = params[name]
        if isinstance(dist, Float):
            if not isinstance(value, float) or not math.isfinite(value):
                raise SpaceError(where, f"expected a float, got {value!r}")
            if not dist.low <= value <= dist.high:
                raise SpaceError(where, f"{value!r} is outside [{dist.low}, {dist.high}]")
            if dist.step is not None:
                k = (value - dist.low) / dist.step
                if abs(k - round(k)) > 1e-8:
                    raise SpaceError(where, f"{value!r} is not min + k * step ({dist.step})")
        elif isinstance(dist, Int):
            if not is_int(value):
                raise SpaceError(where, f"expected an int, got {value!r}")
            if not dist.low <= value <= dist.high or (value - dist.low) % dist.step:
                raise SpaceError(
                    where, f"{value!r} is not in range({dist.low}, {dist.high + 1}, {dist.step})"
                )
        elif isinstance(dist, Categorical | Choice):
            try:
                key = _match(dist.choices, value)
            except LookupError:
                raise SpaceError(where, f"{value!r} is not one of {list(dist.choices)!r}") from None
            if isinstance(dist, Choice):
                _check_point(dist.options[key], params, active, (*where, "values", key))
        elif type(value) is not type(dist.value) or value != dist.value:
            raise SpaceError(where, f"expected the fixed value {dist.value!r}, got {value!r}")


def contains(space: SearchSpace, params: Mapping[str, Any]) -> bool:
    """Whether ``params`` is a point of ``space`` (see :func:`check_params`)."""
    try:
        check_params(space, params)
    except SpaceError:
        return False
    return True


def _walk(
    space: SearchSpace, params: Mapping[str, Any], prefix: str = ""
) -> Iterator[tuple[str, str, Distribution]]:
    """``(label, name, distribution)`` of each active parameter of a valid point."""
    for name, dist in space.items():
        label = prefix + name
        yield label, name, dist
        if isinstance(dist, Choice):
            key = _match(dist.choices, params[name])
            yield from _walk(dist.options[key], params, _branch_prefix(label, key))


def _branch_prefix(label: str, key: ChoiceKey) -> str:
    return f"{label}={key_label(key)}/"


# ----------------------------------------------------------------------------- optuna


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
            _suggest_into(trial, dist.options[key], _branch_prefix(label, key), out)


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
        for label, _, dist in _walk(space, params)
        if not isinstance(dist, Fixed)
    }


def to_optuna_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """The flat point ``params`` keyed by optuna label (for ``enqueue_trial``/``add_trial``)."""
    check_params(space, params)
    return {
        label: params[name]
        for label, name, dist in _walk(space, params)
        if not isinstance(dist, Fixed)
    }


# ----------------------------------------------------------------------------- hyperopt
# Stepped floats and linear ints are searched by step index k (hp.quniform over
# [-0.5, n + 0.5] with q=1), so every value is exactly low + k * step; log ints use
# hp.qloguniform over [low - 0.5, high + 0.5]. Choices are hp.choice over
# {"option": key, "params": {...}} so a sample says which option it took.


def to_hyperopt(space: SearchSpace) -> dict[str, Any]:
    """A hyperopt expression for ``space``; :func:`from_hyperopt` reads its samples."""
    from hyperopt import hp

    return _hp_space(hp, space, "")


def _hp_space(hp: Any, space: SearchSpace, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, dist in space.items():
        label = prefix + name
        if isinstance(dist, Fixed):
            out[name] = dist.value
        elif isinstance(dist, Float) and dist.step is not None:
            out[name] = hp.quniform(label, -0.5, dist.n_steps + 0.5, 1)
        elif isinstance(dist, Float):
            if dist.log:
                out[name] = hp.loguniform(label, math.log(dist.low), math.log(dist.high))
            else:
                out[name] = hp.uniform(label, dist.low, dist.high)
        elif isinstance(dist, Int):
            if dist.log:
                low, high = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
                out[name] = hp.qloguniform(label, low, high, 1)
            else:
                out[name] = hp.quniform(label, -0.5, dist.n_steps + 0.5, 1)
        elif isinstance(dist, Categorical):
            out[name] = hp.choice(label, list(dist.choices))
        else:
            options = [
                {"option": key, "params": _hp_space(hp, sub, _branch_prefix(label, key))}
                for key, sub in dist.options.items()
            ]
            out[name] = hp.choice(label, options)
    return out


def _py(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def from_hyperopt(space: SearchSpace, sample: Mapping[str, Any]) -> dict[str, Any]:
    """The flat params of a sample of :func:`to_hyperopt` (ints are ints, None stays None)."""
    out: dict[str, Any] = {}
    for name, dist in space.items():
        raw = _py(sample[name]) if not isinstance(dist, Choice) else sample[name]
        if isinstance(dist, Fixed):
            out[name] = dist.value
        elif isinstance(dist, Float):
            if dist.step is None:
                out[name] = dist.nearest(raw)
            else:
                out[name] = dist.at_step(min(max(round(raw), 0), dist.n_steps))
        elif isinstance(dist, Int):
            if dist.log:
                out[name] = min(max(round(raw), dist.low), dist.high)
            else:
                out[name] = dist.low + min(max(round(raw), 0), dist.n_steps) * dist.step
        elif isinstance(dist, Categorical):
            out[name] = _match(dist.choices, raw)
        else:
            key = _match(dist.choices, _py(raw["option"]))
            out[name] = key
            out.update(from_hyperopt(dist.options[key], raw["params"]))
    return out


def _hp_labels(space: SearchSpace, prefix: str) -> Iterator[str]:
    for name, dist in space.items():
        label = prefix + name
        if not isinstance(dist, Fixed):
            yield label
        if isinstance(dist, Choice):
            for key, sub in dist.options.items():
                yield from _hp_labels(sub, _branch_prefix(label, key))


def to_hyperopt_vals(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """hyperopt's ``misc["vals"]`` for the point ``params`` (inactive labels get ``[]``)."""
    check_params(space, params)
    vals: dict[str, list[Any]] = {label: [] for label in _hp_labels(space, "")}
    for label, name, dist in _walk(space, params):
        value = params[name]
        if isinstance(dist, Float):
            if dist.step is None:
                vals[label] = [value]
            else:
                vals[label] = [float(round((value - dist.low) / dist.step))]
        elif isinstance(dist, Int):
            step_index = (value - dist.low) // dist.step
            vals[label] = [float(value if dist.log else step_index)]
        elif isinstance(dist, Categorical | Choice):
            vals[label] = [dist.choices.index(_match(dist.choices, value))]
    return vals


# ----------------------------------------------------------------------------- grid


def grid_size(space: SearchSpace) -> int:
    """How many points :func:`grid_points` yields; raises for a continuous Float."""
    return _grid_size(space, ())


def _grid_size(space: SearchSpace, path: Path) -> int:
    total = 1
    for name, dist in space.items():
        where = (*path, name)
        if isinstance(dist, Float):
            if dist.step is None:
                raise SpaceError(
                    where,
                    "grid search needs 'values' or a 'step' (q) for a continuous parameter",
                )
            total *= dist.n_steps + 1
        elif isinstance(dist, Int):
            total *= dist.n_steps + 1
        elif isinstance(dist, Categorical):
            total *= len(dist.choices)
        elif isinstance(dist, Choice):
            total *= sum(
                _grid_size(sub, (*where, "values", key)) for key, sub in dist.options.items()
            )
    return total


def grid_points(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Every point of the grid, in a fixed order (the last parameter varies fastest).

    Checks eagerly: raises :class:`SpaceError` for a Float without step or a grid of more
    than :data:`MAX_GRID_POINTS` points.
    """
    n = grid_size(space)
    if n > MAX_GRID_POINTS:
        raise SpaceError(
            (),
            f"the grid has {n:,} points, more than {MAX_GRID_POINTS:,}: "
            "list fewer values or use larger steps",
        )
    return _grid(space)


def _grid(space: SearchSpace) -> Iterator[dict[str, Any]]:
    columns = [list(_entry_points(name, dist)) for name, dist in space.items()]
    for parts in itertools.product(*columns):
        point: dict[str, Any] = {}
        for part in parts:
            point.update(part)
        yield point


def _entry_points(name: str, dist: Distribution) -> Iterator[dict[str, Any]]:
    if isinstance(dist, Float):
        for k in range(dist.n_steps + 1):
            yield {name: dist.at_step(k)}
    elif isinstance(dist, Int):
        for value in range(dist.low, dist.high + 1, dist.step):
            yield {name: value}
    elif isinstance(dist, Categorical):
        for choice in dist.choices:
            yield {name: choice}
    elif isinstance(dist, Fixed):
        yield {name: dist.value}
    else:
        for key, sub in dist.options.items():
            for point in _grid(sub):
                yield {name: key, **point}
