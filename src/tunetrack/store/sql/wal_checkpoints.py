"""SQLite checkpoints run by the metric writer after its write, outside the write gate.

SQLite copies its write-ahead log into the database (a checkpoint: tens of milliseconds and
two fsyncs at 40 MB) inside the COMMIT that crosses ``wal_autocheckpoint`` pages, while that
writer still holds the file's write gate, so every other writer of the file waits behind it.
The store's bulk metric path instead counts the points it has written and, every
:data:`CHECKPOINT_POINTS`, runs a PASSIVE checkpoint after its transaction, which other
writers do not wait for. ``wal_autocheckpoint`` (:data:`AUTOCHECKPOINT_PAGES`) stays as the
backstop for every other write and for several processes writing at once.

Only SQLite's own ``PRAGMA wal_checkpoint`` touches the log: a descriptor of ours on a file
SQLite locks would drop its POSIX locks when closed.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

#: ``wal_autocheckpoint`` of the store's connections (80 MB at SQLite's 4 KB pages).
AUTOCHECKPOINT_PAGES = 20_000
#: Points a process writes in bulk between its own checkpoints: 500-point batches write about
#: 10,000 log pages per 200,000 points, half the backstop with two writing processes.
CHECKPOINT_POINTS = 100_000


class WalCheckpoints:
    """Count the points a process's store writes in bulk; checkpoint every ``points``."""

    def __init__(self, points: int = CHECKPOINT_POINTS) -> None:
        self._every = points
        self.renew()

    def renew(self) -> None:
        """Start counting afresh (a forked child must not use its parent's count and lock)."""
        self._lock = threading.Lock()
        self._written = 0

    def wrote(self, engine: Engine, points: int) -> None:
        """Count ``points`` just committed; past the threshold run a PASSIVE checkpoint on
        ``engine`` (the caller has left the write gate)."""
        with self._lock:
            self._written += points
            if self._written < self._every:
                return
            self._written = 0
        raw = engine.raw_connection()  # the driver's autocommit: no BEGIN around it
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            raw.close()
