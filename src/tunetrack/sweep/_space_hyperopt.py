"""A search space compiled for hyperopt: its ``hp.*`` expression, and points converted from
and to hyperopt's samples and ``vals``. hyperopt is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from tunetrack.sweep._space_points import branch_prefix, check_params, match_choice, walk
from tunetrack.sweep._space_types import (
    Categorical,
    Choice,
    Fixed,
    Float,
    Int,
    SearchSpace,
)

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
                {"option": key, "params": _hp_space(hp, sub, branch_prefix(label, key))}
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
            out[name] = match_choice(dist.choices, raw)
        else:
            key = match_choice(dist.choices, _py(raw["option"]))
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
                yield from _hp_labels(sub, branch_prefix(label, key))


def to_hyperopt_vals(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """hyperopt's ``misc["vals"]`` for the point ``params`` (inactive labels get ``[]``)."""
    check_params(space, params)
    vals: dict[str, list[Any]] = {label: [] for label in _hp_labels(space, "")}
    for label, name, dist in walk(space, params):
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
            vals[label] = [dist.choices.index(match_choice(dist.choices, value))]
    return vals
