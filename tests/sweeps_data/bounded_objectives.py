"""Objectives for the bounded-trial tests: trials that hang, or kill their own process.

Each takes a fixed parameter ``markers``: a folder where it touches ``<trial number>``
when it starts (and the ``hangs`` objective writes the pid of the process it starts).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tunetrack
from tunetrack.entities import RunStatus
from tunetrack.sweep.stored import trial_runs


def _started(params, trial) -> Path:
    folder = Path(params["markers"])
    (folder / str(trial.number)).touch()
    return folder


def _wait_for(what: str, condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def hangs(params, trial):
    """When ``x`` is 3: start a process that sleeps, then sleep "forever" (an hour)."""
    folder = _started(params, trial)
    if params["x"] == 3:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        (folder / "sleeper.pid").write_text(str(sleeper.pid))
        time.sleep(3600)
    return float(params["x"])


def _trial_status(trial, number: int) -> RunStatus | None:
    client = tunetrack.active_run().client
    for run in trial_runs(client, client.get_run(trial.sweep_id)):
        if run.data.tags["tunetrack.trial.number"] == str(number):
            return run.info.status
    return None


def dies_beside_an_innocent(params, trial):
    """Two trials at once. ``x = 0`` waits until ``x = 1`` runs too, then SIGKILLs its own
    process; ``x = 1`` waits until trial ``x = 0`` has ended (its process is gone), then
    returns: it finishes only if the death of the other one left it alone."""
    folder = _started(params, trial)
    if params["x"] == 0:
        (folder / "killer").write_text(str(trial.number))
        _wait_for("the innocent trial", lambda: (folder / "innocent").exists())
        os.kill(os.getpid(), signal.SIGKILL)
    if params["x"] == 1:
        (folder / "innocent").write_text(str(trial.number))
        _wait_for("the killer trial", lambda: (folder / "killer").exists())
        killer = int((folder / "killer").read_text())
        _wait_for(
            "the killer trial to end",
            lambda: (status := _trial_status(trial, killer)) and status.is_terminal,
        )
    return float(params["x"])


def held(params, trial):
    """When ``x`` is negative: wait for the file ``release`` (the test acts meanwhile)."""
    folder = _started(params, trial)
    if params["x"] < 0:
        _wait_for("release", lambda: (folder / "release").exists(), seconds=120)
    return float(params["x"])
