"""Search-space errors and the checks of names, bounds and values the distributions share."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeAlias

from tunetrack.errors import ConfigError
from tunetrack.sweep._messages import dotted, show

Scalar: TypeAlias = bool | int | float | str | None
ChoiceKey: TypeAlias = str | int | bool
Path: TypeAlias = tuple[str | int, ...]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class SpaceError(ConfigError):
    """A search space is invalid.

    ``path`` locates the problem relative to the ``parameters`` mapping, e.g. ``("lr", "max")``
    or ``("model", "values", "rf", "min_samples_leaf")``; ``message`` says what is wrong.
    ``problems`` lists every ``(path, message)`` found (see :meth:`combine`), the first being
    ``path`` and ``message``.
    """

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path: Path = tuple(path)
        self.problems: tuple[tuple[Path, str], ...] = ((self.path, message),)

    def __str__(self) -> str:
        return "\n".join(f"{dotted(p)}: {m}" if p else m for p, m in self.problems)

    def prefixed(self, prefix: Path) -> SpaceError:
        """The same error (every problem of it) located under ``prefix``."""
        return SpaceError.combine([SpaceError((*prefix, *p), m) for p, m in self.problems])

    @staticmethod
    def combine(errors: Sequence[SpaceError]) -> SpaceError:
        """One error holding the problems of all ``errors`` (a non-empty sequence), in order."""
        first = errors[0]
        combined = SpaceError(first.path, first.message)
        combined.problems = tuple(problem for error in errors for problem in error.problems)
        return combined


# ----------------------------------------------------------------------------- checks


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.12g}"


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int | str)


def check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        where = name if isinstance(name, str | int) else repr(name)
        raise SpaceError(
            (where,),
            f"invalid parameter name {name!r}: start with a letter or '_', then use letters, "
            "digits, '_', '-' or '.'",
        )


def check_range(
    integer: bool, low: object, high: object, log: object, step: object, step_key: str = "step"
) -> None:
    """Validate numeric bounds; paths and messages use the YAML keys (min, max, step/q, log)."""
    wanted = "an integer" if integer else "a finite number"
    bounds = [
        SpaceError((key,), f"{key} must be {wanted}, got {show(value)}")
        for key, value in (("min", low), ("max", high))
        if not (is_int(value) if integer else _is_real(value))
    ]
    if bounds:
        raise SpaceError.combine(bounds)
    assert isinstance(low, int | float)
    assert isinstance(high, int | float)
    if not isinstance(log, bool):
        raise SpaceError(("log",), f"log must be true or false, got {show(log)}")
    if high <= low:
        raise SpaceError(("max",), f"max ({_num(high)}) must be greater than min ({_num(low)})")
    if log and low <= 0:
        raise SpaceError(("min",), f"min ({_num(low)}) must be positive on a log scale")
    if step is None or (integer and step == 1 and is_int(step)):
        return
    if log:
        raise SpaceError((step_key,), f"{step_key} cannot be combined with a log scale")
    if integer and not is_int(step):
        raise SpaceError((step_key,), f"{step_key} must be an integer, got {show(step)}")
    if not _is_real(step):
        raise SpaceError((step_key,), f"{step_key} must be a finite number, got {show(step)}")
    assert isinstance(step, int | float)
    span = high - low
    if step <= 0:
        raise SpaceError((step_key,), f"{step_key} ({_num(step)}) must be positive")
    if step > span:
        raise SpaceError(
            (step_key,),
            f"{step_key} ({_num(step)}) must not be larger than max - min ({_num(span)})",
        )
    if decimal_span(high, low) % Decimal(str(step)) != 0:
        raise SpaceError(
            (step_key,),
            f"max - min ({_num(span)}) must be a multiple of {step_key} ({_num(step)})",
        )


def decimal_span(high: float, low: float) -> Decimal:
    """``high - low`` computed exactly from the numbers as written (0.3 - 0.1 == 0.2)."""
    return Decimal(str(high)) - Decimal(str(low))


def decimals(value: float) -> int:
    """How many decimals ``value`` is written with (``0.05`` has 2)."""
    exponent = Decimal(str(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_choice_key(key: object) -> None:
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


def key_label(key: ChoiceKey) -> str:
    """An option as it appears in a label (``true``, not ``True``)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
