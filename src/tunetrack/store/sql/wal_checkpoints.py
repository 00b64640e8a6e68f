"""SQLite checkpoints taken after a write, outside the writers' turn-taking.

SQLite copies its write-ahead log into the database (a checkpoint: tens of milliseconds and
two fsyncs at 40 MB) inside the COMMIT that crosses ``wal_autocheckpoint`` pages, while that
writer still holds the file's write gate: every other writer of the file waits behind it.
Here a writer that has left the gate checks how many pages of the log wait to be copied (read
from the wal-index header in the ``-shm`` file, https://sqlite.org/walformat.html) and past
the threshold runs a PASSIVE checkpoint, which other writers do not wait for. The
connection's own ``wal_autocheckpoint`` stays as a backstop at twice the threshold.
"""

from __future__ import annotations

import os
import struct
import threading

from sqlalchemy import Engine

#: Pages of write-ahead log waiting to be copied that start a checkpoint (40 MB at SQLite's
#: 4 KB pages: a sweep's per-trial writes then pay a tenth of the fsyncs of SQLite's 1,000).
CHECKPOINT_PAGES = 10_000
#: ``wal_autocheckpoint`` of the store's connections: a checkpoint inside a COMMIT only if the
#: log outgrows what the writers' own checkpoints keep it to.
AUTOCHECKPOINT_PAGES = 2 * CHECKPOINT_PAGES

_HEADER = struct.Struct("=16xI76xI")  # wal-index header: mxFrame at 16, nBackfill at 96


class WalCheckpoints:
    """Checkpoints of one SQLite file, run by writers after they leave its write gate."""

    def __init__(self, database: str, pages: int = CHECKPOINT_PAGES) -> None:
        self._shm = f"{database}-shm"
        self._pages = pages
        self._pid = os.getpid()
        self._running = threading.Lock()

    def pending_pages(self) -> int:
        """Pages in the log that no checkpoint has copied yet (0 when there is no log)."""
        try:
            with open(self._shm, "rb") as shm:
                header = shm.read(_HEADER.size)
        except OSError:
            return 0
        if len(header) < _HEADER.size:
            return 0
        max_frame, backfilled = _HEADER.unpack(header)
        return max(0, int(max_frame) - int(backfilled))

    def after_write(self, engine: Engine) -> None:
        """Run a PASSIVE checkpoint on ``engine`` if enough pages wait (one thread of this
        process at a time; a checkpoint another process runs makes this one a no-op)."""
        if self._pid != os.getpid():  # forked: the parent's lock may have been held
            self._pid, self._running = os.getpid(), threading.Lock()
        if self.pending_pages() < self._pages or not self._running.acquire(blocking=False):
            return
        try:
            raw = engine.raw_connection()  # the driver's autocommit: no BEGIN around it
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            finally:
                raw.close()
        finally:
            self._running.release()
