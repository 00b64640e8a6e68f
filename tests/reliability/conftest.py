"""Reliability tests run with the fluent API's process-wide state isolated."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def tracking_uri(isolated_tracking: str) -> str:
    """The tracking URI of this test (a fresh SQLite file in ``tmp_path``)."""
    return isolated_tracking
