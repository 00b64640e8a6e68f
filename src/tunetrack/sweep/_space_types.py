"""The distributions of a search space and :class:`SearchSpace`, with its JSON form."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

from tunetrack.sweep._messages import dotted, show
from tunetrack.sweep._space_checks import (
    ChoiceKey,
    Path,
    Scalar,
    SpaceError,
    check_choice_key,
    check_name,
    check_range,
    decimal_span,
    decimals,
    is_scalar,
    key_label,
)

_JSON_FORMAT = 1

# ----------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``, on a log scale or on a grid of ``step``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        check_range(False, self.low, self.high, self.log, self.step)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.step is not None:
            object.__setattr__(self, "step", float(self.step))

    @property
    def n_steps(self) -> int:
        """The number of steps between low and high (a grid has ``n_steps + 1`` values)."""
        if self.step is None:
            raise ValueError("a Float without step has no steps")
        return int(decimal_span(self.high, self.low) // Decimal(str(self.step)))

    def at_step(self, k: int) -> float:
        """``low + k * step``, rounded to the decimals of ``low`` and ``step``."""
        assert self.step is not None
        value = self.low + k * self.step
        digits = max(decimals(self.low), decimals(self.step))
        if digits <= 15:
            value = round(value, digits)
        return min(max(value, self.low), self.high)

    def nearest(self, value: float) -> float:
        """``value`` clipped to the range and, with a step, moved to the nearest step."""
        if self.step is None:
            return min(max(float(value), self.low), self.high)
        k = round((float(value) - self.low) / self.step)
        return self.at_step(min(max(k, 0), self.n_steps))


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, on a log scale or every ``step``."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        check_range(True, self.low, self.high, self.log, self.step)

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
            raise SpaceError(("values",), f"values must be a list, got {show(raw)}")
        choices = tuple(raw)
        if not choices:
            raise SpaceError(("values",), "values must not be empty")
        seen: list[Scalar] = []
        for i, choice in enumerate(choices):
            if not is_scalar(choice):
                raise SpaceError(
                    ("values", i),
                    f"a choice must be null, a boolean, a number or a string, got {show(choice)}",
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
        if not is_scalar(self.value):
            raise SpaceError(
                ("value",),
                f"a fixed value must be null, a boolean, a number or a string, "
                f"got {show(self.value)}",
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
            check_choice_key(key)
            if key_label(key) in labels:
                raise SpaceError(("values", key), f"option {key!r} is listed twice")
            labels.add(key_label(key))
            pairs.append((key, option_space(key, sub, _as_space)))
        object.__setattr__(self, "options", FrozenMap(pairs))

    @property
    def choices(self) -> tuple[ChoiceKey, ...]:
        """The option names, in order."""
        return tuple(self.options)


def option_space(
    key: ChoiceKey, sub: object, build: Callable[[Mapping[Any, Any]], SearchSpace]
) -> SearchSpace:
    """The sub-space of option ``key``: empty for ``None``, ``build(sub)`` for a mapping."""
    if sub is None:
        return SearchSpace()
    if isinstance(sub, Mapping):
        try:
            return build(sub)
        except SpaceError as exc:
            raise exc.prefixed(("values", key)) from None
    raise SpaceError(
        ("values", key),
        f"the parameters of option {key!r} must be a mapping (or null), got {show(sub)}",
    )


def _as_space(sub: Mapping[Any, Any]) -> SearchSpace:
    return sub if isinstance(sub, SearchSpace) else SearchSpace(sub)


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
            check_name(name)
            if name in names:
                raise SpaceError((name,), f"parameter {name!r} is defined twice")
            names.add(name)
            if not isinstance(dist, _DISTRIBUTIONS):
                raise SpaceError(
                    (name,),
                    "expected a distribution (Float, Int, Categorical, Fixed or Choice), "
                    f"got {show(dist)}",
                )
        super().__init__(pairs)
        self._scope: dict[str, Path] = _scope(pairs)

    @property
    def names(self) -> frozenset[str]:
        """Every parameter name that can be active (sub-parameters of choices included)."""
        return frozenset(self._scope)

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
        f"{name!r} is already a parameter (at {dotted(other)}); parameters that can be "
        "active together need different names"
    )


def space_compatible(a: SearchSpace, b: SearchSpace) -> bool:
    """True when ``a`` and ``b`` are the same space (types included: ``1`` is not ``1.0``).

    A sweep resumes only into a compatible space, so replayed trials stay valid points.
    """
    return a.to_json() == b.to_json()


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
