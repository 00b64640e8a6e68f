"""Wording shared by the messages of sweep files and search spaces."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence


def show(value: object) -> str:
    """A value for a message: a mapping or a list by its kind, anything else by its repr."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def show_yaml(value: object) -> str:
    """A value as the user wrote it in YAML (``null``, ``true``), cut to 60 characters."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = show(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: Iterable[str | int]) -> str:
    """``("model", "values", "rf")`` as ``model.values.rf``."""
    return ".".join(str(part) for part in path)


def did_you_mean(word: str, choices: Sequence[str]) -> tuple[str | None, str]:
    """The choice closest to ``word`` (or None) and a ``"; did you mean 'x'?"`` hint for it."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return (close[0], f"; did you mean {close[0]!r}?") if close else (None, "")
