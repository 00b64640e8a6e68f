"""The batched metric writer: the hot path of ``log_metric``.

``add`` appends one point to an in-process buffer (a deque: appends are thread-safe and
cost well under a microsecond). A background thread writes the buffer in batches (one
transaction, one executemany, plus the latest_metrics upsert) every ``flush_interval``
seconds or as soon as ``batch_size`` points wait. ``flush`` writes everything added so far
before it returns (read-your-writes). A full buffer makes the caller write a batch itself
(backpressure): nothing is dropped. A batch that fails is retried; if it still fails, the
points go back to the front of the buffer and the error is raised on the next call from
the user's thread.
"""

from __future__ import annotations

import atexit
import collections
import signal
import sys
import threading
import time
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
        self._buffer: collections.deque[MetricRow] = collections.deque()
        self._write_lock = threading.RLock()  # one batch writer at a time, in buffer order
        self._wake = threading.Event()
        self._closed = False
        self._error: TunetrackError | None = None
        self._thread = threading.Thread(target=self._loop, name="tunetrack-writer", daemon=True)
        self._thread.start()
        _writers.add(self)

    # -- user's thread -------------------------------------------------------------------
    def add(self, run_id: str, key: str, step: int, timestamp: int, value: float) -> None:
        """Buffer one point; never blocks unless the buffer is full."""
        if self._error is not None:
            self._raise_error()
        buffer = self._buffer
        buffer.append((run_id, key, step, timestamp, value))
        if len(buffer) >= self.batch_size:
            self._wake.set()
            if len(buffer) >= self.max_buffer:
                self._drain(until_below=self.batch_size)  # backpressure: the caller helps

    @property
    def pending(self) -> int:
        """Points buffered and not yet written."""
        return len(self._buffer)

    def flush(self) -> None:
        """Write every point added before this call; raise if writing failed."""
        if self._error is not None:
            self._raise_error()
        self._drain()  # also waits for a batch the background thread is writing
        if self._error is not None:
            self._raise_error()

    def close(self) -> None:
        """Flush and stop the background thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=60)
        self._drain()
        _writers.discard(self)
        if self._error is not None:
            self._raise_error()

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        assert error is not None
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
            if self._error is None:  # after a failure, wait for the user to see it first
                self._drain()

    def _drain(self, until_below: int = 1) -> None:
        with self._write_lock:
            buffer = self._buffer
            while len(buffer) >= until_below and self._error is None:
                n = min(len(buffer), 5 * self.batch_size)
                batch = [buffer.popleft() for _ in range(n)]
                try:
                    self._write(batch)
                except BaseException:  # e.g. SystemExit from a SIGTERM: keep the batch
                    buffer.extendleft(reversed(batch))
                    raise

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
        self._buffer.extendleft(reversed(batch))
        self._error = StoreError(
            f"writing {len(batch)} metric points failed {self.retries} times ({last}); "
            f"{len(self._buffer)} points are kept in memory and will be retried on the next "
            "flush"
        )

    def _write_per_run(self, batch: list[MetricRow]) -> None:
        """A batch was refused (unknown or deleted run): keep every other run's points."""
        by_run: dict[str, list[MetricRow]] = {}
        for row in batch:
            by_run.setdefault(row[0], []).append(row)
        refused = []
        for rows in by_run.values():
            try:
                self.store.log_metric_rows(rows, validated=True)
            except _PERMANENT as exc:
                refused.append((len(rows), exc))
        if refused:
            n = sum(count for count, _ in refused)
            first = refused[0][1]
            self._error = type(first)(f"{n} metric points were not written: {first.message}")


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


def flush_all() -> None:
    """Flush every writer of this process (used at exit and on SIGTERM)."""
    for writer in list(_writers):
        try:
            writer.flush()
        except TunetrackError as exc:
            sys.stderr.write(
                f"tunetrack: could not write buffered metrics: {exc} ({writer.pending} left)\n"
            )


atexit.register(flush_all)
