"""Shared pieces of the autolog tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def autolog_tracking(isolated_tracking: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store in ``tmp_path``, testing mode on, autolog off afterwards."""
    from tunetrack.autolog import autolog

    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "true")
    try:
        yield isolated_tracking
    finally:
        autolog(disable=True)
