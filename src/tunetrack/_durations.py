"""Durations as people write them: ``30d``, ``12h``, ``1d12h``, ``90m``, ``45s``, ``2w``."""

from __future__ import annotations

import re

_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)
_DURATION = re.compile(rf"(?:{_PART.pattern})+", re.IGNORECASE)


def parse_duration(value: str) -> int:
    """``value`` in milliseconds: whole numbers each followed by a unit, s (seconds),
    m (minutes), h, d or w (weeks), added up. ValueError with a usage hint otherwise."""
    text = value.strip()
    if not _DURATION.fullmatch(text):
        raise ValueError(
            f"invalid duration {value!r}: use a number and a unit (s, m, h, d, w), "
            "like 30d, 12h or 1d12h"
        )
    return sum(int(number) * _MS[unit.lower()] for number, unit in _PART.findall(text))
