"""Byte sizes as people write them: ``1048576``, ``512k``, ``100MB``, ``1.5GiB``."""

from __future__ import annotations

import re

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*", re.IGNORECASE)


def parse_size(value: str) -> int:
    """A positive number of bytes from ``value``; k, M, G and T are powers of 1024.

    Raises ValueError with a usage hint when ``value`` is not such a size.
    """
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid size {value!r}: use bytes or a size like 512k, 100MB, 1G")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[(unit or "").lower()])
    if size <= 0:
        raise ValueError(f"invalid size {value!r}: it must be at least 1 byte")
    return size


def format_size(size: int) -> str:
    """``size`` bytes for people, exactly: ``100 MiB``, ``1.5 KiB``, ``1025 bytes``."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size * 100 % factor == 0:  # at most two decimals
            return f"{size / factor:.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} bytes"
