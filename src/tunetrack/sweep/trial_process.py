"""One trial in a child process of its own, forked from the process that would have run it.

A loky, dask or ray worker (and, when ``budget.trial_timeout`` is set, the sweep's own
process for threading and sequential sweeps) forks a child for each trial and waits for
it. A trial that kills its process (SIGKILL, a segfault, the out-of-memory killer,
``os._exit``) ends alone, FAILED with ``worker process died: ...``; a trial still running
at the timeout is killed with every process it started, FAILED with ``timed out after
10m``. The worker never runs the objective itself, so it survives both and goes on.

The child is the leader of a process group of its own (a timeout kills the group), and
on Linux it dies with the thread that forked it, so no trial outlives its worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from tunetrack._clock import now_ms
from tunetrack.entities import Run, RunStatus, RunTag
from tunetrack.errors import TunetrackError
from tunetrack.sweep import tags as T
from tunetrack.sweep._config_sections import format_duration
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.objective import load_objective
from tunetrack.sweep.worker import (
    ERROR_TAG,
    TrialResult,
    TrialTask,
    enable_autolog,
    execute_trial,
    worker_client,
)

if TYPE_CHECKING:
    from tunetrack.tracking.client import Client

_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}
_POLL_S = 1.0  # how often a wait looks whether the child exited (a grandchild may hold the pipe)
_LENGTH = 8  # bytes of the length that precedes the pickled result
_PR_SET_PDEATHSIG = 1  # prctl(2)
# held while preparing and forking: no child copies a lock another thread holds in _prepare
_forking = threading.Lock()


def execute_in_child(task: TrialTask, timeout: float | None = None) -> TrialResult:
    """Run ``task`` in a forked child process and return its result; after ``timeout``
    seconds, kill the child and what it started and record the trial FAILED."""
    _quiet_interrupts_in_worker_process()
    with _forking:
        _prepare(task)
        started = time.monotonic()
        child = _Child.fork(task)
    try:
        data = child.read(None if timeout is None else started + timeout)
    except BaseException:  # interrupted: the trial does not outlive its wait
        child.kill()
        raise
    finally:
        os.close(child.fd)
    if data is None:  # only with a timeout
        assert timeout is not None
        child.kill()
        error = f"timed out after {format_duration(timeout)}"
    else:
        child.exited(block=True)
        result = _unpickled(data)
        if result is not None:
            return result
        error = f"worker process died: {child.how_it_ended()}"
    client = worker_client(task.tracking_uri)
    run_id = task.run.info.run_id
    return end_failed(client, task.number, run_id, task.goals, error, time.monotonic() - started)


def _quiet_interrupts_in_worker_process() -> None:
    """In a worker process (loky's), make Ctrl-C raise SystemExit, not KeyboardInterrupt.

    Ctrl-C reaches the sweep's whole process group. During a trial either one ends the wait
    and kills the child; between trials KeyboardInterrupt would end the worker's loop with a
    traceback on the sweep's terminal, SystemExit ends it quietly (the sweep reports the
    interrupt). Threads, and any other process (the sweep's own, even when something else
    started it with multiprocessing), keep their handlers.
    """
    if type(multiprocessing.current_process()).__name__ != "LokyProcess":
        return
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_on_interrupt)


def _exit_on_interrupt(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def _prepare(task: TrialTask) -> None:
    """Open the store, import the objective and turn autolog on in this process, once:
    every child starts with them done (a child that fails the same way records why)."""
    with contextlib.suppress(Exception):
        worker_client(task.tracking_uri)
        load_objective(task.objective)
        enable_autolog(task.autolog)


def recorded_result(
    number: int, run: Run, goals: Sequence[Goal], duration: float = 0.0
) -> TrialResult:
    """The result of a trial as its ended ``run`` records it."""
    metrics, status = dict(run.data.metrics), run.info.status
    if status == RunStatus.FINISHED and all(g.name in metrics for g in goals):
        return TrialResult(number, run.info.run_id, "complete", metrics, duration=duration)
    if status == RunStatus.PRUNED:
        return TrialResult(number, run.info.run_id, "pruned", metrics, duration=duration)
    error = run.data.tags.get(ERROR_TAG)
    return TrialResult(number, run.info.run_id, "failed", {}, error, duration)


def end_failed(
    client: Client,
    number: int,
    run_id: str,
    goals: Sequence[Goal],
    error: str,
    duration: float = 0.0,
) -> TrialResult:
    """End trial ``number``'s run FAILED with ``error`` (tag ``tunetrack.trial.error``),
    unless it ended before its process did: then its result is the one it recorded."""
    try:
        run = client.get_run(run_id)
        if run.info.status.is_terminal:
            return recorded_result(number, run, goals, duration)
        client.set_tag(run_id, ERROR_TAG, error)
        client.set_terminated(run_id, RunStatus.FAILED)
    except TunetrackError:  # the run is gone (deleted by another process): the sweep goes on
        pass
    return TrialResult(number, run_id, "failed", {}, error, duration)


def _unpickled(data: bytes) -> TrialResult | None:
    """The child's result, or None if it did not write all of it."""
    if not _complete(data):
        return None
    try:
        return pickle.loads(data[_LENGTH:])
    except Exception:
        return None


def _complete(data: bytes | bytearray) -> bool:
    return len(data) >= _LENGTH and len(data) == _LENGTH + int.from_bytes(data[:_LENGTH], "big")


class _Child:
    """A forked trial process: its pid, the pipe it writes its result to, how it ended."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.code: int | None = None  # os.waitstatus_to_exitcode, once it exited

    @classmethod
    def fork(cls, task: TrialTask) -> _Child:
        parent = os.getpid()
        read_fd, write_fd = os.pipe()
        # A Ctrl-C (sent to the whole process group) waits until the fork is done: raised
        # inside os.fork's at-fork hooks it would only be printed, and the child must be in
        # its own process group before it can be interrupted.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:
            os.close(read_fd)
            _run_child(task, write_fd, parent, mask)
        try:
            os.close(write_fd)
            with contextlib.suppress(OSError):  # the child does the same: whichever is first
                os.setpgid(pid, pid)
            return cls(pid, read_fd)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a Ctrl-C meanwhile comes now

    def read(self, deadline: float | None) -> bytes | None:
        """What the child wrote until it closed the pipe, wrote its whole result or exited;
        None once ``deadline`` (``time.monotonic``) passed."""
        data = bytearray()
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            if wait <= 0:
                return None
            if poller.poll(wait * 1000):
                chunk = os.read(self.fd, 1 << 16)
                data += chunk
                if not chunk or _complete(data):
                    return bytes(data)
            elif self.exited():  # a process the trial started may keep the pipe open
                return bytes(data)

    def exited(self, *, block: bool = False) -> bool:
        """Whether the child exited (reaping it); ``block`` waits for it."""
        if self.code is None:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is not None

    def kill(self) -> None:
        """SIGKILL the child's process group (the child and what it started), and reap it."""
        if self.code is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                os.kill(self.pid, signal.SIGKILL)
        self.exited(block=True)

    def how_it_ended(self) -> str:
        code = self.code
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
        return f"exit code {code} before it returned a result"


def _run_child(task: TrialTask, fd: int, parent: int, mask: set[int | signal.Signals]) -> NoReturn:
    """The child: run the trial, write its result to ``fd``, exit without the parent's
    exit handlers. It starts with the interrupts blocked; ``mask`` is the signal mask to
    restore once it is in its own process group."""
    code = 1
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        _die_with(parent)
        for interrupt in _INTERRUPTS:  # one sent to the sweep's group before we left it:
            signal.signal(interrupt, signal.signal(interrupt, signal.SIG_IGN))  # discarded
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # the parent's stdout may be a progress display that another thread held locked
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        tags = [
            RunTag(T.TRIAL_PID, str(os.getpid())),
            RunTag(T.TRIAL_WORKER, f"{socket.gethostname()} pid {parent}"),
            RunTag(T.TRIAL_STARTED, str(now_ms())),
        ]
        with contextlib.suppress(TunetrackError):  # a deleted run: execute_trial says so
            worker_client(task.tracking_uri).log_batch(task.run.info.run_id, tags=tags)
        result = pickle.dumps(execute_trial(task))
        _flush()
        view = memoryview(len(result).to_bytes(_LENGTH, "big") + result)
        while view:
            view = view[os.write(fd, view) :]
        code = 0
    except BaseException:
        traceback.print_exc()
        _flush()
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """On Linux, have the kernel SIGKILL this process when the thread that forked it ends
    (its worker was killed, or the sweep interrupted); exit if that already happened."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _flush() -> None:
    """Write what this process buffered: metrics of runs the objective left open, output."""
    from tunetrack.tracking.writer import flush_all

    with contextlib.suppress(Exception):
        flush_all()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
