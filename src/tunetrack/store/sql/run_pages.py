"""One page of a run search in its order, read so that the database can stop at the page.

Sorted by a metric first (the runs table's usual sort), the runs that have a value for it
are read joined to ``latest_metrics`` in value order: the database walks
``ix_latest_metrics_exp_key_value_run`` for that key and stops once the page is full, instead
of sorting every matching run. The runs without a value (never logged, or NaN) come after
them in the remaining order, as ``run_order_clauses`` sorts missing keys last. Any other
order is one query over the runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select

from tunetrack.search.filter import OrderKey
from tunetrack.store.sql import models as m
from tunetrack.store.sql.filters import run_order_clauses


def walks_metric_index(keys: list[OrderKey]) -> bool:
    """Whether a page in the order of ``keys`` is read by walking a metric's index (then
    the filter is best checked run by run: ``run_filter_clause(per_run=True)``)."""
    return bool(keys) and keys[0].entity == "metric"


def read_run_page(
    conn: Connection,
    experiment_ids: Sequence[int],
    conditions: Sequence[ColumnElement[bool]],
    keys: list[OrderKey],
    offset: int,
    limit: int,
) -> list[Row[Any]]:
    """Rows ``offset`` to ``offset + limit`` of the runs of ``experiment_ids`` that meet every
    condition in ``conditions`` (over ``models.runs``), in the order of ``keys``."""
    runs = m.runs.c
    if not walks_metric_index(keys):
        query = (
            select(m.runs)
            .where(runs.experiment_id.in_(experiment_ids), *conditions)
            .order_by(*run_order_clauses(keys))
        )
        return list(conn.execute(query.offset(offset).limit(limit)))
    first, rest = keys[0], run_order_clauses(keys[1:])
    sort = m.latest_metrics.alias("sort_metric")
    # No condition on runs.experiment_id here: the index of the sort metric drives the query
    # (latest_metrics.experiment_id is the run's), the runs are looked up by their key.
    valued = (
        select(m.runs)
        .join(sort, (sort.c.run_id == runs.run_id) & (sort.c.key == first.key))
        .where(sort.c.experiment_id.in_(experiment_ids), sort.c.value.is_not(None), *conditions)
    )
    by_value = sort.c.value.asc() if first.ascending else sort.c.value.desc()
    found = list(conn.execute(valued.order_by(by_value, *rest).offset(offset).limit(limit)))
    if len(found) == limit:
        return found
    skip = 0
    if not found and offset:  # the page starts past the runs with a value: how far past?
        valued_count = conn.execute(select(func.count()).select_from(valued.subquery())).scalar()
        skip = max(offset - (valued_count or 0), 0)
    has_value = (
        select(sort.c.run_id)
        .where(sort.c.run_id == runs.run_id, sort.c.key == first.key, sort.c.value.is_not(None))
        .exists()
    )
    lacking = (
        select(m.runs)
        .where(runs.experiment_id.in_(experiment_ids), ~has_value, *conditions)
        .order_by(*rest)
    )
    found += conn.execute(lacking.offset(skip).limit(limit - len(found)))
    return found
