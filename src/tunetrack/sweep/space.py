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
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from tunetrack.errors import ConfigError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

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

Scalar: TypeAlias = bool | int | float | str | None
ChoiceKey: TypeAlias = str | int | bool
Path: TypeAlias = tuple[str | int, ...]

MAX_GRID_POINTS = 100_000
_JSON_FORMAT = 1
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class SpaceError(ConfigError):
    """A search space is invalid.

    ``path`` locates the problem relative to the ``parameters`` mapping, e.g. ``("lr", "max")``
    or ``("model", "values", "rf", "min_samples_leaf")``; ``message`` says what is wrong.
    """

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path: Path = tuple(path)

    def __str__(self) -> str:
        return f"{_dotted(self.path)}: {self.message}" if self.path else self.message

    def prefixed(self, prefix: Path) -> SpaceError:
        """The same error located under ``prefix``."""
        return SpaceError((*prefix, *self.path), self.message)


# ----------------------------------------------------------------------------- checks


def _dotted(path: Path) -> str:
    return ".".join(str(part) for part in path)


def _show(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.12g}"


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int | str)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        where = name if isinstance(name, str | int) else repr(name)
        raise SpaceError(
            (where,),
            f"invalid parameter name {name!r}: start with a letter or '_', then use letters, "
            "digits, '_', '-' or '.'",
        )


def _check_range(
    integer: bool, low: object, high: object, log: object, step: object, step_key: str = "step"
) -> None:
    """Validate numeric bounds; paths and messages use the YAML keys (min, max, step/q, log)."""
    for key, value in (("min", low), ("max", high)):
        if integer and not _is_int(value):
            raise SpaceError((key,), f"{key} must be an integer, got {_show(value)}")
        if not integer and not _is_real(value):
            raise SpaceError((key,), f"{key} must be a finite number, got {_show(value)}")
    assert isinstance(low, int | float)
    assert isinstance(high, int | float)
    if not isinstance(log, bool):
        raise SpaceError(("log",), f"log must be true or false, got {_show(log)}")
    if high <= low:
        raise SpaceError(("max",), f"max ({_num(high)}) must be greater than min ({_num(low)})")
    if log and low <= 0:
        raise SpaceError(("min",), f"min ({_num(low)}) must be positive on a log scale")
    if step is None or (integer and step == 1 and _is_int(step)):
        return
    if log:
        raise SpaceError((step_key,), f"{step_key} cannot be combined with a log scale")
    if integer and not _is_int(step):
        raise SpaceError((step_key,), f"{step_key} must be an integer, got {_show(step)}")
    if not _is_real(step):
        raise SpaceError((step_key,), f"{step_key} must be a finite number, got {_show(step)}")
    assert isinstance(step, int | float)
    span = high - low
    if step <= 0:
        raise SpaceError((step_key,), f"{step_key} ({_num(step)}) must be positive")
    if step > span:
        raise SpaceError(
            (step_key,),
            f"{step_key} ({_num(step)}) must not be larger than max - min ({_num(span)})",
        )
    if _decimal(high, low) % Decimal(str(step)) != 0:
        raise SpaceError(
            (step_key,),
            f"max - min ({_num(span)}) must be a multiple of {step_key} ({_num(step)})",
        )


def _decimal(high: float, low: float) -> Decimal:
    """``high - low`` computed exactly from the numbers as written (0.3 - 0.1 == 0.2)."""
    return Decimal(str(high)) - Decimal(str(low))


# ----------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``, on a log scale or on a grid of ``step``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        _check_range(False, self.low, self.high, self.log, self.step)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.step is not None:
            object.__setattr__(self, "step", float(self.step))

    @property
    def n_steps(self) -> int:
        """The number of steps between low and high (a grid has ``n_steps + 1`` values)."""
        if self.step is None:
            raise ValueError("a Float without step has no steps")
        return int(_decimal(self.high, self.low) // Decimal(str(self.step)))

    def at_step(self, k: int) -> float:
        """``low + k * step``, rounded to the decimals of ``low`` and ``step``."""
        assert self.step is not None
        value = self.low + k * self.step
        digits = max(_decimals(self.low), _decimals(self.step))
        if digits <= 15:
            value = round(value, digits)
        return min(max(value, self.low), self.high)

    def nearest(self, value: float) -> float:
        """``value`` clipped to the range and, with a step, moved to the nearest step."""
        if self.step is None:
            return min(max(float(value), self.low), self.high)
        k = round((float(value) - self.low) / self.step)
        return self.at_step(min(max(k, 0), self.n_steps))


def _decimals(value: float) -> int:
    exponent = Decimal(str(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, on a log scale or every ``step``."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        _check_range(True, self.low, self.high, self.log, self.step)

    @property
    def n_steps(self) -> int:
        """The number of steps between low and high."""
        return (self.high - self.low) // self.step


@dataclass(frozen=True)
class Categorical:
    """One of a list of scalar ``choices`` (None, bool, int, float or str)."""

    choices: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        raw = self.choices
        if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
            raise SpaceError(("values",), f"values must be a list, got {_show(raw)}")
        choices = tuple(raw)
        if not choices:
            raise SpaceError(("values",), "values must not be empty")
        seen: list[Scalar] = []
        for i, choice in enumerate(choices):
            if not _is_scalar(choice):
                raise SpaceError(
                    ("values", i),
                    f"a choice must be null, a boolean, a number or a string, got {_show(choice)}",
                )
            if choice in seen:
                raise SpaceError(("values", i), f"{choice!r} repeats an earlier choice")
            seen.append(choice)
        object.__setattr__(self, "choices", choices)


@dataclass(frozen=True)
class Fixed:
    """A constant: not searched, but passed to the objective with the other parameters."""

    value: Scalar

    def __post_init__(self) -> None:
        if not _is_scalar(self.value):
            raise SpaceError(
                ("value",),
                f"a fixed value must be null, a boolean, a number or a string, "
                f"got {_show(self.value)}",
            )


K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """An ordered, immutable mapping that compares (order included) and hashes by value."""

    __slots__ = ("_dict", "_pairs")

    def __init__(self, pairs: Iterable[tuple[K, V]] = ()) -> None:
        self._pairs: tuple[tuple[K, V], ...] = tuple(pairs)
        self._dict: dict[K, V] = dict(self._pairs)

    def __getitem__(self, key: K) -> V:
        return self._dict[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrozenMap) and self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self._pairs)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._pairs,))


@dataclass(frozen=True)
class Choice:
    """A conditional parameter: one of ``options``, each with its own sub-space.

    ``options`` maps an option (a string, int or bool) to a :class:`SearchSpace` (``None`` or
    ``{}`` for an option without sub-parameters).
    """

    options: Mapping[ChoiceKey, SearchSpace]

    def __post_init__(self) -> None:
        raw = self.options
        items = list(raw.items()) if isinstance(raw, Mapping) else list(raw)
        if not items:
            raise SpaceError(("values",), "values must not be empty")
        pairs: list[tuple[ChoiceKey, SearchSpace]] = []
        labels: set[str] = set()
        for key, sub in items:
            _check_choice_key(key)
            if _key_label(key) in labels:
                raise SpaceError(("values", key), f"option {key!r} is listed twice")
            labels.add(_key_label(key))
            if sub is None:
                sub = SearchSpace()
            elif isinstance(sub, Mapping) and not isinstance(sub, SearchSpace):
                try:
                    sub = SearchSpace(sub)
                except SpaceError as exc:
                    raise exc.prefixed(("values", key)) from None
            if not isinstance(sub, SearchSpace):
                raise SpaceError(
                    ("values", key),
                    f"the parameters of option {key!r} must be a mapping (or null), "
                    f"got {_show(sub)}",
                )
            pairs.append((key, sub))
        object.__setattr__(self, "options", FrozenMap(pairs))

    @property
    def choices(self) -> tuple[ChoiceKey, ...]:
        """The option names, in order."""
        return tuple(self.options)


def _check_choice_key(key: object) -> None:
    if isinstance(key, str):
        if key and "/" not in key and "=" not in key:
            return
    elif isinstance(key, int):
        return
    where = key if isinstance(key, str | int) else repr(key)
    raise SpaceError(
        ("values", where),
        f"an option must be a non-empty string without '/' or '=', an integer or a boolean, "
        f"got {key!r}",
    )


def _key_label(key: ChoiceKey) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _branch_prefix(label: str, key: ChoiceKey) -> str:
    return f"{label}={_key_label(key)}/"


Distribution: TypeAlias = Float | Int | Categorical | Fixed | Choice
_DISTRIBUTIONS = (Float, Int, Categorical, Fixed, Choice)


class SearchSpace(FrozenMap[str, Distribution]):
    """An ordered, immutable mapping of parameter name to distribution.

    Names must be unique on every path: a sub-parameter of a :class:`Choice` may not reuse
    the name of a parameter that can be active at the same time (options of one choice may
    share names, since only one of them is active).
    """

    __slots__ = ("_scope",)

    def __init__(
        self, params: Mapping[str, Distribution] | Iterable[tuple[str, Distribution]] = ()
    ) -> None:
        pairs = tuple(params.items()) if isinstance(params, Mapping) else tuple(params)
        names: set[str] = set()
        for name, dist in pairs:
            _check_name(name)
            if name in names:
                raise SpaceError((name,), f"parameter {name!r} is defined twice")
            names.add(name)
            if not isinstance(dist, _DISTRIBUTIONS):
                raise SpaceError(
                    (name,),
                    "expected a distribution (Float, Int, Categorical, Fixed or Choice), "
                    f"got {_show(dist)}",
                )
        super().__init__(pairs)
        self._scope: dict[str, Path] = _scope(pairs)

    def to_json(self) -> str:
        """The space as JSON text; :meth:`from_json` restores an equal space."""
        doc = {"format": _JSON_FORMAT, "parameters": _space_to_doc(self)}
        return json.dumps(doc, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Rebuild a space written by :meth:`to_json`."""
        try:
            doc = json.loads(text)
            if doc.get("format") != _JSON_FORMAT:
                raise ValueError(f"unsupported format {doc.get('format')!r}")
            return _space_from_doc(doc["parameters"])
        except SpaceError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SpaceError((), f"not a search space JSON document: {exc!r}") from exc


def _scope(pairs: tuple[tuple[str, Distribution], ...]) -> dict[str, Path]:
    """Every name that can be active in a space, with where it is defined; checks clashes."""
    seen: dict[str, Path] = {}
    for name, dist in pairs:
        here: dict[str, Path] = {name: (name,)}
        if isinstance(dist, Choice):
            for key, sub in dist.options.items():
                for sub_name, sub_path in sub._scope.items():
                    path = (name, "values", key, *sub_path)
                    if sub_name == name:
                        raise SpaceError(path, _clash(sub_name, (name,)))
                    here.setdefault(sub_name, path)
        for other, path in here.items():
            if other in seen:
                first = seen[other]
                deeper, shallower = (path, first) if len(path) >= len(first) else (first, path)
                raise SpaceError(deeper, _clash(other, shallower))
        seen.update(here)
    return seen


def _clash(name: str, other: Path) -> str:
    return (
        f"{name!r} is already a parameter (at {_dotted(other)}); parameters that can be "
        "active together need different names"
    )


def space_compatible(a: SearchSpace, b: SearchSpace) -> bool:
    """True when ``a`` and ``b`` are the same space (types included: ``1`` is not ``1.0``).

    A sweep resumes only into a compatible space, so replayed trials stay valid points.
    """
    return a.to_json() == b.to_json()


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
            (), f"parameters must be a mapping of name to distribution, got {_show(raw)}"
        )
    if not raw:
        raise SpaceError((), "no parameters: add at least one")
    return _parse_params(raw, ())


def _parse_params(raw: Mapping[Any, Any], path: Path) -> SearchSpace:
    pairs: list[tuple[str, Distribution]] = []
    for name, entry in raw.items():
        try:
            _check_name(name)
        except SpaceError as exc:
            raise exc.prefixed(path) from None
        pairs.append((name, _parse_entry(entry, (*path, name))))
    try:
        return SearchSpace(pairs)
    except SpaceError as exc:
        raise exc.prefixed(path) from None


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
        both_int = _is_int(entry.get("min")) and _is_int(entry.get("max"))
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
    for key in entry:
        if key not in allowed:
            raise SpaceError(
                (*path, key if isinstance(key, str | int) else repr(key)),
                f"unknown key {key!r} for {kind}; allowed: {', '.join(sorted(allowed))}",
            )

    try:
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
                f"got {_show(values)}",
            )
        return Categorical(tuple(values))
    except SpaceError as exc:
        raise exc.prefixed(path) from None


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
        _check_range(True, low, high, log, step, step_key)
        return Int(low, high, log, step)
    _check_range(False, low, high, log, step, step_key)
    return Float(low, high, log, step)


def _parse_choice(values: Mapping[Any, Any]) -> Choice:
    if not values:
        raise SpaceError(("values",), "values must not be empty")
    options: list[tuple[ChoiceKey, SearchSpace]] = []
    for key, sub in values.items():
        _check_choice_key(key)
        if sub is None:
            options.append((key, SearchSpace()))
        elif isinstance(sub, Mapping):
            try:
                options.append((key, _parse_params(sub, ())))
            except SpaceError as exc:
                raise exc.prefixed(("values", key)) from None
        else:
            raise SpaceError(
                ("values", key),
                f"the parameters of option {key!r} must be a mapping (or null), got {_show(sub)}",
            )
    return Choice(FrozenMap(options))


# ----------------------------------------------------------------------------- JSON


def _space_to_doc(space: SearchSpace) -> list[dict[str, Any]]:
    return [{"name": name, **_dist_to_doc(dist)} for name, dist in space.items()]


def _dist_to_doc(dist: Distribution) -> dict[str, Any]:
    if isinstance(dist, Float | Int):
        kind = "float" if isinstance(dist, Float) else "int"
        return {
            "type": kind,
            "low": dist.low,
            "high": dist.high,
            "log": dist.log,
            "step": dist.step,
        }
    if isinstance(dist, Categorical):
        return {"type": "categorical", "choices": list(dist.choices)}
    if isinstance(dist, Fixed):
        return {"type": "fixed", "value": dist.value}
    options = [{"key": k, "parameters": _space_to_doc(sub)} for k, sub in dist.options.items()]
    return {"type": "choice", "options": options}


def _space_from_doc(doc: list[dict[str, Any]]) -> SearchSpace:
    return SearchSpace((item["name"], _dist_from_doc(item)) for item in doc)


def _dist_from_doc(doc: dict[str, Any]) -> Distribution:
    kind = doc["type"]
    if kind == "float":
        return Float(doc["low"], doc["high"], doc["log"], doc["step"])
    if kind == "int":
        return Int(doc["low"], doc["high"], doc["log"], doc["step"])
    if kind == "categorical":
        return Categorical(tuple(doc["choices"]))
    if kind == "fixed":
        return Fixed(doc["value"])
    if kind == "choice":
        return Choice(
            FrozenMap((o["key"], _space_from_doc(o["parameters"])) for o in doc["options"])
        )
    raise ValueError(f"unknown distribution type {kind!r}")


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
            if not _is_int(value):
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
            key = trial.suggest_categorical(label, dist.choices)
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
