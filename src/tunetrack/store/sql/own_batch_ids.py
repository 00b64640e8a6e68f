"""Batch ids a SQL store gives its own metric writes on PostgreSQL.

A COMMIT's answer can be lost on the way back from a database server (the connection drops
just then): the store retries on a new connection, and a write that had committed would be
made twice. Metric points have no identity of their own, so each metric write that comes
without a caller's batch id is recorded under one of the store's own ids
(:meth:`~tunetrack.store.sql.store.SqlStore.log_metric_rows`): the retry finds it recorded
and writes nothing. Each id is forgotten by a later write once no attempt may use it again.
SQLite needs none of this: its COMMIT runs in the calling process.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections.abc import Iterator


class OwnBatchIds:
    """One writer id per store and process, and the sequence numbers of its writes."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        """Start afresh (a forked child must not reuse its parent's ids)."""
        self._lock = threading.Lock()
        self._writer_id = uuid.uuid4().hex
        self._seq = itertools.count(1)
        self._open: set[int] = set()  # seqs whose write may still be attempted

    @contextlib.contextmanager
    def claim(self) -> Iterator[tuple[tuple[str, int], int]]:
        """A new batch id for one write and its retries, and the lowest seq any write of
        this store may still use (the ids below it can be forgotten)."""
        with self._lock:
            seq = next(self._seq)
            self._open.add(seq)
            floor = min(self._open)
        try:
            yield (self._writer_id, seq), floor
        finally:
            with self._lock:
                self._open.discard(seq)
