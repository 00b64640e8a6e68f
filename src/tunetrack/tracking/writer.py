"""The batched metric writer: the hot path of ``log_metric``.

``add`` appends one point to an in-process buffer (a deque: appends are thread-safe and
cost well under a microsecond). A background thread writes the buffer in batches (one
transaction, one executemany, plus the latest_metrics upsert) every ``flush_interval``
seconds or as soon as ``batch_size`` points wait.

- ``sync``/``flush`` write the points added *before* the call (a watermark) and return,
  however busy other threads keep the buffer.
- A batch that fails for a database reason is retried; if it still fails its points go
  back to the front of the buffer, one warning says so, and the background thread keeps
  trying. The caller meets the error only when its own write fails: a full buffer
  (backpressure) or a ``flush``/``close`` that could not write the kept points.
- Points the store refuses for good (their run was deleted or never existed) are dropped
  and the error is kept for *that* run: the next ``add`` or ``flush`` for that run raises
  it, no other run's call ever does. It is raised once: that run's points still buffered
  when the caller met it fail silently, points logged after it fail anew.
- After ``fork`` the child starts with an empty buffer and its own thread; the parent
  writes its own points, so each point is written exactly once.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import sys
import threading
import time
import warnings
import weakref

from tunetrack.errors import InvalidInput, NotFound, StoreError, TunetrackError
from tunetrack.store.base import MetricRow, Store

_PERMANENT = (NotFound, InvalidInput)  # retrying cannot help these


class MetricWriter:
    """Buffers metric points for one store and writes them in batches."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 10_000,
        flush_interval: float = 1.0,
        max_buffer: int = 200_000,
        retries: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size:
            raise InvalidInput("need 1 <= batch_size <= max_buffer")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.retries = retries
        self.retry_delay = retry_delay
        self._closed = False
        self._start()
        _writers.add(self)

    def _start(self) -> None:
        """Fresh buffer, locks and background thread (at creation and in a forked child)."""
        self._buffer: collections.deque[MetricRow] = collections.deque()
        self._done = 0  # points taken out of the buffer for good; changed under _write_lock
        self._write_lock = threading.RLock()  # one batch writer at a time, in buffer order
        self._wake = threading.Event()
        self._refused: dict[str, TunetrackError] = {}  # run id -> why its points were dropped
        self._reported: set[str] = set()  # runs whose refusal the caller has met since
        self._failing = False  # the last background write failed (warned once)
        self._thread = threading.Thread(target=self._loop, name="tunetrack-writer", daemon=True)
        self._thread.start()

    # -- user's thread -------------------------------------------------------------------
    def add(self, run_id: str, key: str, step: int, timestamp: int, value: float) -> None:
        """Buffer one point; never blocks unless the buffer is full."""
        if self._refused:
            self._raise_refusal(run_id)
        if self._reported:
            self._reported.discard(run_id)  # a new point: its failure is news again
        buffer = self._buffer
        buffer.append((run_id, key, step, timestamp, value))
        if len(buffer) >= self.batch_size:
            if not self._wake.is_set():  # setting it again costs a lock per point
                self._wake.set()
            if len(buffer) >= self.max_buffer:
                self._drain(keep=self.batch_size)  # backpressure: the caller helps

    @property
    def pending(self) -> int:
        """Points buffered and not yet written."""
        return len(self._buffer)

    def sync(self) -> None:
        """Write every point added before this call (read-your-writes).

        Raises :class:`StoreError` if they could not be written; they stay buffered.
        """
        self._drain()

    def flush(self, run_id: str | None = None) -> None:
        """Write every point added before this call, then raise what the store refused:
        for ``run_id`` only when given, else for any run."""
        self.sync()
        self._raise_refusal(run_id)

    def close(self) -> None:
        """Flush and stop the background thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=60)
        _writers.discard(self)
        self.flush()

    def _raise_refusal(self, run_id: str | None) -> None:
        if run_id is not None:
            error = self._refused.pop(run_id, None)
        elif not self._refused:
            return
        else:
            try:
                run_id, error = self._refused.popitem()
            except KeyError:  # another thread took the last one
                return
        if error is not None:
            self._reported.add(run_id)
            raise error

    # -- writing ---------------------------------------------------------------------------
    def _loop(self) -> None:
        # Leave SIGTERM and SIGINT to the main thread: the kernel may deliver a process's
        # signal to any thread that does not block it, and then a main thread asleep in
        # time.sleep() would not run tunetrack's SIGTERM handler until it woke up.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain()
            except StoreError as exc:
                if not self._failing:
                    warnings.warn(
                        f"tunetrack: {exc}; retrying in the background",
                        RuntimeWarning,
                        stacklevel=1,
                    )
                self._failing = True
            else:
                self._failing = False

    def _drain(self, keep: int = 0) -> None:
        """Write the points buffered now (the watermark), down to ``keep`` left."""
        with self._write_lock:
            buffer = self._buffer
            target = self._done + len(buffer) - keep
            while self._done < target:
                n = min(len(buffer), target - self._done, 5 * self.batch_size)
                batch = [buffer.popleft() for _ in range(n)]
                try:
                    self._write(batch)
                except BaseException:  # e.g. SystemExit from a SIGTERM: keep the batch
                    buffer.extendleft(reversed(batch))
                    raise
                self._done += n

    def _write(self, batch: list[MetricRow]) -> None:
        for attempt in range(self.retries):
            try:
                self.store.log_metric_rows(batch, validated=True)
                return
            except _PERMANENT:
                self._write_per_run(batch)
                return
            except Exception as exc:  # a database hiccup: retry, then report
                last = exc
                if attempt + 1 < self.retries:
                    time.sleep(self.retry_delay * 2**attempt)
        raise StoreError(
            f"writing {len(batch)} metric points failed {self.retries} times ({last}); "
            f"{len(batch) + len(self._buffer)} points are kept in memory"
        )

    def _write_per_run(self, batch: list[MetricRow]) -> None:
        """A batch was refused (unknown or deleted run): keep every other run's points."""
        by_run: dict[str, list[MetricRow]] = {}
        for row in batch:
            by_run.setdefault(row[0], []).append(row)
        for run_id, rows in by_run.items():
            try:
                self.store.log_metric_rows(rows, validated=True)
            except _PERMANENT as exc:
                if run_id in self._reported:
                    continue  # buffered before the caller met this run's error
                self._refused[run_id] = type(exc)(
                    f"{exc.message} ({len(rows)} metric points were not written)"
                )

    def _after_fork_in_child(self) -> None:
        if not self._closed:
            self._start()  # the parent's buffered points are the parent's to write


_writers: weakref.WeakSet[MetricWriter] = weakref.WeakSet()
_by_store: weakref.WeakKeyDictionary[Store, MetricWriter] = weakref.WeakKeyDictionary()
_by_store_lock = threading.Lock()


def existing_writer(store: Store) -> MetricWriter | None:
    """The writer of ``store`` if this process has made one."""
    return _by_store.get(store)


def writer_for(store: Store) -> MetricWriter:
    """The one writer of ``store`` in this process (created on first use)."""
    writer = _by_store.get(store)
    if writer is None:
        with _by_store_lock:
            writer = _by_store.get(store)
            if writer is None:
                writer = _by_store[store] = MetricWriter(store)
    return writer


def close_writer(store: Store) -> None:
    """Flush and stop the writer of ``store``; a later :func:`writer_for` makes a new one."""
    with _by_store_lock:
        writer = _by_store.pop(store, None)
    if writer is not None:
        writer.close()


def flush_all() -> None:
    """Write every writer's buffered points (used at exit and on SIGTERM)."""
    for writer in list(_writers):
        try:
            writer.sync()
        except TunetrackError as exc:
            sys.stderr.write(
                f"tunetrack: could not write buffered metrics: {exc} ({writer.pending} left)\n"
            )


def _after_fork_in_child() -> None:
    global _by_store_lock
    _by_store_lock = threading.Lock()
    for writer in list(_writers):
        writer._after_fork_in_child()
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        # A multiprocessing child ends with os._exit (no atexit) and clears its finalizers
        # after the fork: register the exit flush from its own after-fork hooks.
        mp_util.register_after_fork(
            _exit_flush_token, lambda _: mp_util.Finalize(None, flush_all, exitpriority=100)
        )


class _Token:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_exit_flush_token = _Token()


atexit.register(flush_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
