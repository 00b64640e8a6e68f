"""Search spaces: small frozen distributions parsed once from a sweep's ``parameters``.

A :class:`SearchSpace` is an ordered, immutable mapping of parameter name to one of
:class:`Float`, :class:`Int`, :class:`Categorical`, :class:`Fixed` or :class:`Choice` (a
conditional parameter whose options carry their own sub-space). Every type validates in its
constructor, compares and hashes by value, and the whole space round-trips through JSON
(:meth:`SearchSpace.to_json` / :meth:`SearchSpace.from_json`).

The space compiles to optuna suggestions (:func:`suggest`), hyperopt ``hp.*`` expressions
(:func:`to_hyperopt`) and grid points (:func:`grid_points`). Parameters the user sees are a
*flat* dict (``{"model": "rf", "min_samples_leaf": 3}``); inside optuna and hyperopt, a
sub-parameter is labelled by its choice path (``"model=rf/min_samples_leaf"``) so two options
may reuse a name with different ranges.

optuna and hyperopt are imported inside the functions that need them: importing this module
(config validation) stays light.

This module parses ``parameters`` (:func:`parse_space`) and is where the rest is imported
from; the code lives in ``_space_checks`` (:class:`SpaceError`, value checks),
``_space_types`` (the distributions, :class:`SearchSpace`, JSON), ``_space_points``
(checking and walking points) and one compiler per library: ``_space_optuna``,
``_space_hyperopt``, ``_space_grid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunetrack.sweep._messages import show
from tunetrack.sweep._space_checks import (
    ChoiceKey,
    Path,
    SpaceError,
    check_choice_key,
    check_name,
    check_range,
    is_int,
)
from tunetrack.sweep._space_checks import Scalar as Scalar  # re-exported for annotations
from tunetrack.sweep._space_grid import MAX_GRID_POINTS, grid_points, grid_size
from tunetrack.sweep._space_hyperopt import from_hyperopt, to_hyperopt, to_hyperopt_vals
from tunetrack.sweep._space_optuna import optuna_distributions, suggest, to_optuna_params
from tunetrack.sweep._space_points import check_params, contains
from tunetrack.sweep._space_types import (
    Categorical,
    Choice,
    Distribution,
    Fixed,
    Float,
    FrozenMap,
    Int,
    SearchSpace,
    option_space,
    space_compatible,
)

__all__ = [
    "MAX_GRID_POINTS",
    "Categorical",
    "Choice",
    "Distribution",
    "Fixed",
    "Float",
    "Int",
    "SearchSpace",
    "SpaceError",
    "check_params",
    "contains",
    "from_hyperopt",
    "grid_points",
    "grid_size",
    "optuna_distributions",
    "parse_space",
    "space_compatible",
    "suggest",
    "to_hyperopt",
    "to_hyperopt_vals",
    "to_optuna_params",
]

# ----------------------------------------------------------------------------- parsing

_NUMERIC = ("uniform", "log_uniform", "q_uniform", "int", "int_uniform")
_ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "uniform": frozenset({"distribution", "min", "max", "log", "q", "step"}),
    "log_uniform": frozenset({"distribution", "min", "max"}),
    "q_uniform": frozenset({"distribution", "min", "max", "q", "step"}),
    "int": frozenset({"distribution", "min", "max", "log", "step"}),
    "int_uniform": frozenset({"distribution", "min", "max", "log", "step"}),
    "categorical": frozenset({"distribution", "values"}),
    "constant": frozenset({"distribution", "value"}),
}


def parse_space(raw: Mapping[str, Any]) -> SearchSpace:
    """Parse a sweep file's ``parameters`` mapping; raises :class:`SpaceError`.

    Entries: ``{distribution: uniform|log_uniform|q_uniform|int, min, max, log?, step?|q?}``
    (``distribution`` may be left out: integer bounds mean ``int``, others ``uniform``),
    ``{values: [..]}`` (categorical), ``{values: {option: {sub-parameters} | null}}``
    (conditional), ``{value: x}`` (fixed); a bare list or scalar is shorthand for the last
    two kinds.
    """
    if not isinstance(raw, Mapping):
        raise SpaceError(
            (), f"parameters must be a mapping of name to distribution, got {show(raw)}"
        )
    if not raw:
        raise SpaceError((), "no parameters: add at least one")
    return _parse_params(raw, ())


def _parse_params(raw: Mapping[Any, Any], path: Path) -> SearchSpace:
    """The space of ``raw``; a SpaceError lists the problems of every parameter."""
    pairs: list[tuple[str, Distribution]] = []
    errors: list[SpaceError] = []
    for name, entry in raw.items():
        try:
            check_name(name)
            pairs.append((name, _parse_entry(entry, (*path, name))))
        except SpaceError as exc:
            errors.append(exc)
    try:
        space = SearchSpace(pairs)  # names clashing across options, among the valid entries
    except SpaceError as exc:
        errors.append(exc.prefixed(path))
    if errors:
        raise SpaceError.combine(errors)
    return space


def _parse_entry(entry: object, path: Path) -> Distribution:
    if isinstance(entry, list | tuple):
        try:
            return Categorical(tuple(entry))
        except SpaceError as exc:
            raise SpaceError((*path, *exc.path[1:]), exc.message) from None
    if not isinstance(entry, Mapping):
        try:
            return Fixed(entry)  # type: ignore[arg-type]
        except SpaceError as exc:
            raise SpaceError(path, exc.message) from None

    if "distribution" in entry:
        kind = entry["distribution"]
    elif "values" in entry:
        kind = "categorical"
    elif "value" in entry:
        kind = "constant"
    elif "min" in entry or "max" in entry:
        both_int = is_int(entry.get("min")) and is_int(entry.get("max"))
        kind = "int" if both_int else "uniform"
    else:
        keys = ", ".join(repr(k) for k in entry) or "none"
        raise SpaceError(
            path,
            "expected a distribution: give 'distribution' (with min and max), 'values' or "
            f"'value' (keys given: {keys})",
        )
    if kind == "q_log_uniform":
        raise SpaceError(
            (*path, "distribution"),
            "q_log_uniform is not supported (optuna cannot step a log scale): "
            "use log_uniform, or list the values",
        )
    if not isinstance(kind, str) or kind not in _ALLOWED_KEYS:
        raise SpaceError(
            (*path, "distribution"),
            f"unknown distribution {kind!r}; valid: {', '.join(sorted(_ALLOWED_KEYS))}",
        )
    allowed = _ALLOWED_KEYS[kind]
    errors = [
        SpaceError(
            (*path, key if isinstance(key, str | int) else repr(key)),
            f"unknown key {key!r} for {kind}; allowed: {', '.join(sorted(allowed))}",
        )
        for key in entry
        if key not in allowed
    ]
    try:
        distribution = _parse_known(kind, entry)
    except SpaceError as exc:
        errors.append(exc.prefixed(path))
    if errors:
        raise SpaceError.combine(errors)
    return distribution


def _parse_known(kind: str, entry: Mapping[str, Any]) -> Distribution:
    """The distribution ``kind`` from the allowed keys of ``entry`` (paths relative to it)."""
    if kind in _NUMERIC:
        return _parse_numeric(kind, entry)
    if kind == "constant":
        return Fixed(entry["value"])
    if "values" not in entry:
        raise SpaceError(("values",), "values is required for categorical")
    values = entry["values"]
    if isinstance(values, Mapping):
        return _parse_choice(values)
    if not isinstance(values, list | tuple):
        raise SpaceError(
            ("values",),
            "values must be a list of choices, or a mapping of option to its parameters, "
            f"got {show(values)}",
        )
    return Categorical(tuple(values))


def _parse_numeric(kind: str, entry: Mapping[str, Any]) -> Float | Int:
    for key in ("min", "max"):
        if key not in entry:
            raise SpaceError((key,), f"{key} is required for {kind}")
    if "q" in entry and "step" in entry:
        raise SpaceError(("q",), "give q or step, not both")
    step_key = "q" if "q" in entry else "step"
    step = entry.get(step_key)
    if kind == "q_uniform" and step is None:
        raise SpaceError(("q",), "q is required for q_uniform")
    log = entry.get("log", kind == "log_uniform")
    low, high = entry["min"], entry["max"]
    if kind in ("int", "int_uniform"):
        step = 1 if step is None else step
        check_range(True, low, high, log, step, step_key)
        return Int(low, high, log, step)
    check_range(False, low, high, log, step, step_key)
    return Float(low, high, log, step)


def _parse_choice(values: Mapping[Any, Any]) -> Choice:
    if not values:
        raise SpaceError(("values",), "values must not be empty")
    options: list[tuple[ChoiceKey, SearchSpace]] = []
    errors: list[SpaceError] = []
    for key, sub in values.items():
        try:
            check_choice_key(key)
            options.append((key, option_space(key, sub, _parse_sub_params)))
        except SpaceError as exc:
            errors.append(exc)
    if errors:
        raise SpaceError.combine(errors)
    return Choice(FrozenMap(options))


def _parse_sub_params(raw: Mapping[Any, Any]) -> SearchSpace:
    return _parse_params(raw, ())
