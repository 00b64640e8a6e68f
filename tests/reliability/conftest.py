"""Reliability-test isolation for the fluent API's process-wide state.

Every test tracks into its own ``sqlite:///{tmp_path}/t.db``, starts with no active
experiment, runs inside ``tmp_path`` (nothing lands in the repository), and leaves no
active run or SIGTERM handler behind.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunetrack
from tunetrack.tracking import fluent

_ENV = (
    "TUNETRACK_TRACKING_URI",
    "TUNETRACK_EXPERIMENT_ID",
    "TUNETRACK_EXPERIMENT_NAME",
    "TUNETRACK_ARTIFACT_ROOT",
)


@pytest.fixture(autouse=True)
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The tracking URI of this test (a fresh SQLite file in ``tmp_path``)."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    sigterm = signal.getsignal(signal.SIGTERM)
    uri = f"sqlite:///{tmp_path}/t.db"
    tunetrack.set_tracking_uri(uri)
    fluent._experiment_id = None
    try:
        yield uri
    finally:
        try:
            while tunetrack.active_run() is not None:
                tunetrack.end_run()
        finally:
            fluent._experiment_id = None
            tunetrack.set_tracking_uri(None)
            signal.signal(signal.SIGTERM, sigterm)
