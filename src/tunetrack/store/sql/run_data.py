"""Params, tags and metrics of one run, written together: ``log_batch`` (and a run's end,
which writes its last metrics and tags with its status) checks a batch whole, then writes
it in one transaction; params never change once logged."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, select

from tunetrack import _validation as v
from tunetrack.entities import Metric, Param, RunTag
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store._rows import checked_batch_id, checked_metric_rows
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry, write_transaction
from tunetrack.store.sql.metric_batches import MetricBatchesMixin


def param_values(params: Mapping[str, object]) -> list[tuple[str, str]]:
    """Validated (key, value) pairs of params."""
    if len(params) > v.MAX_PARAMS_PER_BATCH:
        raise InvalidInput(f"{len(params)} params in one batch; at most {v.MAX_PARAMS_PER_BATCH}")
    return [
        (k, v.validate_value(val, "param", k, v.MAX_PARAM_VALUE_LENGTH))
        for k, val in ((v.validate_key(key, "param"), val) for key, val in params.items())
    ]


class RunDataMixin(MetricBatchesMixin):
    """Write the params, tags and metrics of one run in one transaction."""

    _insert: Callable[..., Any]  # the dialect's insert(), which has on_conflict_*
    _tag_values: Callable[[Mapping[str, object]], list[tuple[str, str]]]
    _run_row: Callable[[Connection, str], Row[Any]]

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        *,
        batch_id: tuple[str, int] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run in one transaction, once per
        ``batch_id`` if given (see :meth:`log_metric_rows`)."""
        batch = None if batch_id is None else checked_batch_id(batch_id)
        write = self._batch_writes(run_id, metrics, params, tags)

        def txn(batch: tuple[str, int] | None, floor: int | None) -> None:
            with write_transaction(self._engine) as conn:
                if not self._claim_batch(conn, batch, floor):
                    return  # written before: the sender retried after a lost response
                write(conn, self._live_runs(conn, [run_id]))

        if metrics:
            self._write_once(txn, batch, None)
        else:  # params and tags written again are the same rows
            with_retry(lambda: txn(batch, None))

    def _batch_writes(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> Callable[[Connection, Mapping[str, int]], None]:
        """Check a batch of one run; return what writes it inside a transaction, given the
        experiment of the (live) run."""
        if len(metrics) > v.MAX_METRICS_PER_BATCH:
            raise InvalidInput(
                f"{len(metrics)} metrics in one batch; at most {v.MAX_METRICS_PER_BATCH}"
            )
        if len(params) > v.MAX_PARAMS_PER_BATCH:
            raise InvalidInput(
                f"{len(params)} params in one batch; at most {v.MAX_PARAMS_PER_BATCH}"
            )
        new_params: dict[str, str] = {}
        for p in params:
            ((key, value),) = param_values({p.key: p.value})
            if new_params.setdefault(key, value) != value:
                raise InvalidInput(f"param {key!r} is given twice with different values")
        tag_rows = self._tag_values({t.key: t.value for t in tags})
        rows = checked_metric_rows([(run_id, x.key, x.step, x.timestamp, x.value) for x in metrics])

        def write(conn: Connection, experiment_of: Mapping[str, int]) -> None:
            if new_params:
                self._insert_params(conn, run_id, new_params)
            if tag_rows:
                stmt = self._insert(m.tags).values(
                    [{"run_id": run_id, "key": k, "value": val} for k, val in tag_rows]
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                    )
                )
            if rows:
                self._write_metric_rows(conn, rows, experiment_of)

        return write

    def _insert_params(self, conn: Connection, run_id: str, new: dict[str, str]) -> None:
        def clashes() -> list[str]:
            stored = dict(
                conn.execute(
                    select(m.params.c.key, m.params.c.value).where(
                        m.params.c.run_id == run_id, m.params.c.key.in_(list(new))
                    )
                ).all()
            )
            return [
                f"{k!r} is {stored[k]!r}, not {new[k]!r}"
                for k in sorted(stored)
                if stored[k] != new[k]
            ]

        bad = clashes()
        if not bad:
            stmt = self._insert(m.params).values(
                [{"run_id": run_id, "key": k, "value": val} for k, val in new.items()]
            )
            inserted = conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["run_id", "key"])
            ).rowcount
            if inserted != len(new):  # some existed already, or a concurrent writer won
                bad = clashes()
        if bad:
            raise Conflict(f"params of run {run_id!r} cannot change once logged: " + "; ".join(bad))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag from a run."""

        def txn() -> None:
            with write_transaction(self._engine) as conn:
                self._run_row(conn, run_id)
                done = conn.execute(
                    delete(m.tags).where(m.tags.c.run_id == run_id, m.tags.c.key == key)
                ).rowcount
                if not done:
                    raise NotFound(f"run {run_id!r} has no tag {key!r}")

        with_retry(txn)
