"""Ctrl-C reaches a sweep's whole process group: a loky worker between two trials must end
quietly, not print loky's KeyboardInterrupt traceback on the sweep's terminal."""

from __future__ import annotations

import multiprocessing
import os
import signal

import psutil
import pytest
from joblib.externals.loky import get_reusable_executor

from tunetrack.sweep import trial_process


def _after_a_trial() -> int:
    """What a worker process keeps from running a trial: its interrupt handling."""
    trial_process._quiet_interrupts_in_worker_process()
    return os.getpid()


def test_an_idle_loky_worker_ends_quietly_on_ctrl_c(capfd: pytest.CaptureFixture[str]) -> None:
    executor = get_reusable_executor(max_workers=1, reuse=False)
    try:
        pid = executor.submit(_after_a_trial).result(timeout=120)
        worker = psutil.Process(pid)
        os.kill(pid, signal.SIGINT)  # idle: waiting for its next call
        # loky's own thread may reap it first: only that it ended is certain here
        _, alive = psutil.wait_procs([worker], timeout=60)
        assert alive == []
    finally:
        executor.shutdown(wait=True, kill_workers=True)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


def _keeps_keyboard_interrupt() -> bool:
    trial_process._quiet_interrupts_in_worker_process()
    return signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sweep_run_from_another_multiprocessing_child_keeps_its_ctrl_c() -> None:
    """A sweep with trial timeouts run in a process that multiprocessing started (not a
    loky worker) must still see Ctrl-C as KeyboardInterrupt and end interrupted."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_keeps_keyboard_interrupt, ()) is True
    assert _keeps_keyboard_interrupt() is True  # and the test's own process
