"""The metric-batch path of the SQL store: the batched writer's bulk inserts, written once.

A batch of points of any runs is checked against the runs in its writing transaction (a run
another process deleted is refused as ``log_batch`` refuses it) and written as the latest
value of each series (run and key) in ``latest_metrics``, which names the series, then its
points in ``metrics`` under their series ids (one statement on PostgreSQL; on SQLite the
upsert, one lookup of the batch's series ids, and the points as plain rows). A batch id,
the caller's or on PostgreSQL one of the store's own (:mod:`.own_batch_ids`), is recorded
first in the same transaction, so a batch sent or retried again writes nothing the second
time. On PostgreSQL a batch under an id whose runs are all live takes one statement for all
of this (one round trip instead of five); any other goes the general way, which says which
run is missing or deleted.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from tunetrack._clock import now_ms
from tunetrack.entities import LifecycleStage
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.store._rows import checked_acked_below, checked_batch_id, checked_metric_rows
from tunetrack.store.base import MetricRow
from tunetrack.store.sql.engine import chunks, run_driver_sql, with_retry, write_transaction
from tunetrack.store.sql.own_batch_ids import OwnBatchIds
from tunetrack.store.sql.statements import BulkSql
from tunetrack.store.sql.wal_checkpoints import WalCheckpoints

_STEP, _TIME = operator.itemgetter(2), operator.itemgetter(3)


class MetricBatchesMixin:
    """Write metric points in bulk, once per batch id."""

    _engine: Engine
    _bulk: BulkSql
    _own_ids: OwnBatchIds | None
    _checkpoints: WalCheckpoints | None

    def log_metric_rows(
        self,
        rows: Sequence[MetricRow],
        *,
        validated: bool = False,
        batch_id: tuple[str, int] | None = None,
        acked_below: int | None = None,
    ) -> None:
        """Bulk path of the batched writer: insert points of any runs, update latest values.

        Every run is checked in the writing transaction: a run that another process deleted
        is refused here exactly as :meth:`log_batch` refuses it. A ``batch_id`` is recorded
        first in the same transaction; one recorded before marks a replay, which writes
        nothing. ``acked_below`` (with a ``batch_id``) forgets the writer's ids below it.
        """
        if not rows:
            return
        if not validated:
            rows = checked_metric_rows(rows)
        batch = None if batch_id is None else checked_batch_id(batch_id)
        floor = checked_acked_below(acked_below, batch)

        def txn(batch: tuple[str, int] | None, floor: int | None) -> None:
            if batch is not None and self._write_points_once(rows, batch, floor or 0):
                return  # written, or a replay
            with write_transaction(self._engine) as conn:
                if not self._claim_batch(conn, batch, floor):
                    return  # written before: the sender retried after a lost response
                experiment_of = self._live_runs(conn, sorted({r[0] for r in rows}))
                self._write_metric_rows(conn, rows, experiment_of)

        self._write_once(txn, batch, floor)
        if self._checkpoints is not None:  # after the transaction: outside the write gate
            self._checkpoints.wrote(self._engine, len(rows))

    def _write_once(
        self,
        txn: Callable[[tuple[str, int] | None, int | None], None],
        batch: tuple[str, int] | None,
        floor: int | None,
    ) -> None:
        """Run a metric write ``txn(batch, floor)`` with retries: under the caller's batch
        id, else on PostgreSQL under one of the store's own (:mod:`.own_batch_ids`)."""
        if batch is not None or self._own_ids is None:
            with_retry(lambda: txn(batch, floor))
            return
        with self._own_ids.claim() as (own, own_floor):
            with_retry(lambda: txn(own, own_floor))

    def _claim_batch(
        self, conn: Connection, batch: tuple[str, int] | None, floor: int | None = None
    ) -> bool:
        """Record a batch id (if any) and forget its writer's ids below ``floor``; False when
        it was recorded before (on PostgreSQL a concurrent claim of the same id waits for
        the first transaction to end)."""
        if batch is None:
            return True
        # RETURNING, not rowcount: psycopg reports -1 for this statement
        if conn.exec_driver_sql(self._bulk.claim, (*batch, now_ms())).first() is None:
            return False
        if floor:
            conn.exec_driver_sql(self._bulk.forget, (batch[0], floor))
        return True

    def _live_runs(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
        """Experiment of each run; NotFound/InvalidInput unless every run is live.

        On PostgreSQL the rows are share-locked until the transaction ends, so a concurrent
        delete waits for the points being written instead of racing them.
        """
        found: dict[str, int] = {}
        for chunk in chunks(run_ids):
            params: tuple[object, ...]
            if self._bulk.columns:
                sql, params = self._bulk.runs, (list(chunk),)
            else:
                sql, params = self._bulk.runs.format(", ".join("?" * len(chunk))), tuple(chunk)
            for run_id, experiment_id, stage in conn.exec_driver_sql(sql, params):
                if stage != LifecycleStage.ACTIVE.value:
                    raise InvalidInput(f"run {run_id!r} is deleted: restore it to log to it")
                found[run_id] = experiment_id
        unknown = [r for r in run_ids if r not in found]
        if unknown:
            raise NotFound(f"no run with id {unknown[0]!r}")
        return found

    def _write_metric_rows(
        self, conn: Connection, rows: Sequence[MetricRow], experiment_of: Mapping[str, int]
    ) -> None:
        if self._bulk.latest is not None:  # SQLite binds NaN as NULL by itself
            latest = [(*r, experiment_of[r[0]]) for r in _latest_points(rows)]
            run_driver_sql(conn, self._bulk.latest, latest, many=True)  # makes new series
            series = self._series_ids(conn, latest)
            points = [
                (series[run, key], step, timestamp, value)
                for run, key, step, timestamp, value in rows
            ]
            run_driver_sql(conn, self._bulk.metrics, points, many=True)
            return
        run_driver_sql(conn, self._bulk.metrics, _columns_of(rows, experiment_of))

    def _series_ids(
        self, conn: Connection, latest: Sequence[tuple[Any, ...]]
    ) -> dict[tuple[str, str], int]:
        """SQLite: the series id of each distinct (run, key) of ``latest``, whose rows exist
        now (an index lookup per series). The points then go in with plain values: one
        ``INSERT ... SELECT`` per point, looking its series up, took 40% longer."""
        assert self._bulk.series is not None
        found: dict[tuple[str, str], int] = {}
        for chunk in chunks(latest, params_each=2):
            sql = self._bulk.series.format(", ".join(["(?, ?)"] * len(chunk)))
            pairs = tuple(value for row in chunk for value in row[:2])
            found.update(((r, k), i) for r, k, i in conn.exec_driver_sql(sql, pairs))
        return found

    def _write_points_once(
        self, rows: Sequence[MetricRow], batch: tuple[str, int], floor: int
    ) -> bool:
        """PostgreSQL's one round trip for a batch: claim its id, check its runs, write it
        (:attr:`BulkSql.points_once`), one statement in a transaction of its own (no BEGIN
        and COMMIT to wait for). False when that statement wrote nothing because a run is
        missing or deleted, or on SQLite: the caller takes the general path, which says
        which run."""
        if not self._bulk.points_once:
            return False
        params = _columns_of(rows)
        params.update(writer=batch[0], seq=batch[1], now=now_ms(), floor=floor)
        with self._engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            row = run_driver_sql(conn, self._bulk.points_once, params)
        return bool(row and row[0])


def _columns_of(
    rows: Sequence[MetricRow], experiment_of: Mapping[str, int] | None = None
) -> dict[str, object]:
    """A batch as the parameters of PostgreSQL's statements (statements._WRITE_POINTS): its
    distinct runs and keys, its points as p* and the latest point of each series as l*;
    with ``experiment_of``, each run's experiment as ``experiments``."""
    from tunetrack.store.sql.pg_arrays import Int8Array  # needs psycopg

    runs: dict[str, int] = {}
    keys: dict[str, int] = {}
    points = _packed_columns(rows, runs, keys)
    latest = _packed_columns(_latest_points(rows), runs, keys)
    params: dict[str, object] = {"runs": list(runs), "keys": list(keys)}
    params.update(zip(("pr", "pk", "ps", "pt", "pv"), points, strict=True))
    params.update(zip(("lr", "lk", "ls", "lt", "lv"), latest, strict=True))
    if experiment_of is not None:
        params["experiments"] = Int8Array.of([experiment_of[r] for r in runs])
    return params


def _latest_points(rows: Sequence[MetricRow]) -> list[MetricRow]:
    """The latest point of each run and key: highest step, then timestamp; later rows win
    ties. Rows usually arrive in step order, where each stable sort is one C-level pass
    (two sorts on plain numbers take half the time of one on (step, timestamp) pairs)."""
    ordered = sorted(rows, key=_TIME)
    ordered.sort(key=_STEP)
    return list({(r[0], r[1]): r for r in ordered}.values())


def _packed_columns(
    table: Sequence[tuple[Any, ...]], runs: dict[str, int], keys: dict[str, int]
) -> tuple[object, ...]:
    """Rows ``(run_id, key, step, timestamp, value)`` as PostgreSQL's bulk statements take
    them: each row's (1-based) index into ``runs`` and ``keys`` (the distinct values, in
    order, added to as needed), then a packed array per column of numbers."""
    from tunetrack.store.sql.pg_arrays import Float8Array, Int4Array, Int8Array  # needs psycopg

    run_index = [runs.setdefault(r[0], len(runs) + 1) for r in table]
    key_index = [keys.setdefault(r[1], len(keys) + 1) for r in table]
    return (
        Int4Array.of(run_index),
        Int4Array.of(key_index),
        Int8Array.of([r[2] for r in table]),
        Int8Array.of([r[3] for r in table]),
        Float8Array.of([r[4] for r in table]),
    )
