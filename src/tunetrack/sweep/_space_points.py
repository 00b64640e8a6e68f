"""Points of a search space: checking flat params against it, and walking a point's
active parameters with their choice-path labels (``"model=rf/min_samples_leaf"``), the
names the optuna and hyperopt compilers give sub-parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from tunetrack.sweep._space_checks import ChoiceKey, Path, SpaceError, is_int, key_label
from tunetrack.sweep._space_types import (
    Categorical,
    Choice,
    Distribution,
    Float,
    Int,
    SearchSpace,
)


def match_choice(choices: tuple[Any, ...], value: object) -> Any:
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
                key = match_choice(dist.choices, value)
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


def walk(
    space: SearchSpace, params: Mapping[str, Any], prefix: str = ""
) -> Iterator[tuple[str, str, Distribution]]:
    """``(label, name, distribution)`` of each active parameter of a valid point."""
    for name, dist in space.items():
        label = prefix + name
        yield label, name, dist
        if isinstance(dist, Choice):
            key = match_choice(dist.choices, params[name])
            yield from walk(dist.options[key], params, branch_prefix(label, key))


def branch_prefix(label: str, key: ChoiceKey) -> str:
    """The label prefix of the sub-parameters of option ``key`` of choice ``label``."""
    return f"{label}={key_label(key)}/"
