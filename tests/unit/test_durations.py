"""Durations as ``tunetrack gc --older-than`` reads them."""

from __future__ import annotations

import pytest

from tunetrack._durations import parse_duration


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30d", 30 * 86_400_000),
        ("12h", 12 * 3_600_000),
        ("1d12h", 36 * 3_600_000),
        ("90m", 90 * 60_000),
        ("45s", 45_000),
        ("2W", 14 * 86_400_000),
        ("0s", 0),
        (" 1h30m ", 90 * 60_000),
    ],
)
def test_a_duration_is_numbers_with_units_added_up(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "30", "30 days", "d", "1.5h", "-1d", "1y", "1d 2h"])
def test_anything_else_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*like 30d, 12h or 1d12h"):
        parse_duration(text)
