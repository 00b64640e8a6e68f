"""What the UI reads that the Store's search cannot give cheaply: pages of runs with only
the chosen columns, run counts per experiment, and min/max per metric.

They are direct queries on a :class:`~tunetrack.store.sql.store.SqlStore` (the server's
and ``tunetrack ui``'s store) with the same filter compiler, order clauses and page tokens
as ``search_runs``, so a page of 50 runs that logged 10,000 metric keys each loads
50 x (chosen columns) values, not 500,000.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, literal, or_, select

from tunetrack import _validation as v
from tunetrack.entities import RunInfo, ViewType
from tunetrack.errors import InvalidInput
from tunetrack.search import parse_filter, parse_order_by
from tunetrack.server.ui.downsample import DEFAULT_POINTS
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry
from tunetrack.store.sql.filters import run_filter_clause
from tunetrack.store.sql.paging import PageToken
from tunetrack.store.sql.run_pages import read_run_page, walks_metric_index
from tunetrack.store.sql.run_rows import run_info
from tunetrack.store.sql.store import SqlStore

_TABLES = {"metrics": m.latest_metrics, "params": m.params, "tags": m.tags}
_IN_CHUNK = 500
_CHILD_SAMPLE = 100  # children whose keys the column picker also offers


def parse_column(column: str) -> tuple[str, str]:
    """``"metrics.acc"`` -> ``("metrics", "acc")``; InvalidInput for anything else."""
    entity, _, key = column.partition(".")
    if entity not in _TABLES or not key:
        raise InvalidInput(f"unknown column {column!r}: use metrics.KEY, params.KEY or tags.KEY")
    return entity, key


@dataclass
class RunRow:
    """One row of the runs table: the run's info and the chosen columns' values."""

    info: RunInfo
    values: dict[str, object] = field(default_factory=dict)
    has_children: bool = False


@dataclass
class RunPage:
    """A page of rows and the token of the next page (``None`` on the last page)."""

    rows: list[RunRow]
    next_token: str | None


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _IN_CHUNK] for i in range(0, len(items), _IN_CHUNK)]


def _column_values(
    conn: Connection, run_ids: list[str], columns: Sequence[str]
) -> dict[str, dict[str, object]]:
    """{run_id: {column: value}} for the chosen columns only."""
    wanted: dict[str, list[str]] = {}
    for column in columns:
        entity, key = parse_column(column)
        wanted.setdefault(entity, []).append(key)
    values: dict[str, dict[str, object]] = {rid: {} for rid in run_ids}
    for entity, keys in wanted.items():
        table = _TABLES[entity]
        for chunk in _chunks(run_ids):
            rows = conn.execute(
                select(table.c.run_id, table.c.key, table.c.value).where(
                    table.c.run_id.in_(chunk), table.c.key.in_(keys)
                )
            )
            for rid, key, value in rows:
                if entity == "metrics" and value is None:
                    value = math.nan
                values[rid][f"{entity}.{key}"] = value
    return values


def _with_children(conn: Connection, run_ids: list[str]) -> set[str]:
    parents: set[str] = set()
    for chunk in _chunks(run_ids):
        parents.update(
            conn.execute(
                select(m.runs.c.parent_run_id).where(m.runs.c.parent_run_id.in_(chunk)).distinct()
            ).scalars()
        )
    return parents


def run_page(
    sql: SqlStore,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[str],
    page_token: str | None,
    max_results: int,
    columns: Sequence[str],
    *,
    nested: bool = False,
    parent: str | None = None,
) -> RunPage:
    """One page of matching runs with only ``columns`` loaded (see the module docstring).

    ``nested`` lists one level of the run tree: top-level runs (or the children of
    ``parent``) that match the filter or have a child that does, so a sweep stays visible
    when only its trials match.
    """
    for column in columns:
        parse_column(column)
    v.validate_max_results(max_results)
    eids = [sql.experiment_key(e) for e in experiment_ids]
    token = PageToken.decode(page_token)
    r = m.runs.c
    active = [s.value for s in ViewType.ACTIVE_ONLY.stages()]
    conditions: list[ColumnElement[bool]] = [r.lifecycle_stage.in_(active)]
    expr = parse_filter(filter_string)
    keys = parse_order_by(order_by)
    clause = run_filter_clause(expr, eids, per_run=walks_metric_index(keys))
    if parent is not None:
        conditions.append(r.parent_run_id == parent)
    elif nested:
        conditions.append(r.parent_run_id.is_(None))
    # a child matches through the set of matching runs, found once
    if nested and clause is not None and (as_set := run_filter_clause(expr, eids)) is not None:
        matching_children = (
            select(r.parent_run_id)
            .where(r.parent_run_id.is_not(None), r.experiment_id.in_(eids), as_set)
            .correlate(None)
        )
        clause = or_(clause, r.run_id.in_(matching_children))
    if clause is not None:
        conditions.append(clause)

    def read() -> RunPage:
        with sql.engine.connect() as conn:
            until = token.until
            if until is None:
                until = conn.execute(
                    select(func.max(r.start_time)).where(r.experiment_id.in_(eids))
                ).scalar()
            found = read_run_page(
                conn, eids, [*conditions, r.start_time <= (until or 0)], keys, token.offset,
                max_results + 1,
            )  # fmt: skip
            more = len(found) > max_results
            found = found[:max_results]
            ids = [row.run_id for row in found]
            values = _column_values(conn, ids, columns)
            parents = _with_children(conn, ids)
        rows = [RunRow(run_info(row), values[row.run_id], row.run_id in parents) for row in found]
        following = PageToken(token.offset + max_results, until)
        return RunPage(rows, following.encode() if more else None)

    return with_retry(read)


def run_counts(sql: SqlStore, experiment_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
    """{experiment_id: (active runs, last activity in ms)} of the experiments with runs."""
    if not experiment_ids:
        return {}
    r = m.runs.c
    query = (
        select(r.experiment_id, func.count(), func.max(func.coalesce(r.end_time, r.start_time)))
        .where(r.experiment_id.in_([sql.experiment_key(e) for e in experiment_ids]))
        .where(r.lifecycle_stage == "active")
        .group_by(r.experiment_id)
    )
    with sql.engine.connect() as conn:
        return {str(eid): (count, last) for eid, count, last in conn.execute(query)}


def metric_ranges(sql: SqlStore, run_id: str) -> dict[str, tuple[float, float, int]]:
    """{metric key: (min, max, number of points)} of one run, in one query."""
    t, series = m.metrics.c, m.latest_metrics.c
    query = (
        select(series.key, func.min(t.value), func.max(t.value), func.count())
        .join_from(m.latest_metrics, m.metrics, t.series_id == series.series_id)
        .where(series.run_id == run_id)
        .group_by(series.key)
    )
    with sql.engine.connect() as conn:
        return {
            key: (math.nan if lo is None else lo, math.nan if hi is None else hi, n)
            for key, lo, hi, n in conn.execute(query)
        }


def column_keys(sql: SqlStore, run_ids: Sequence[str], limit: int = 2000) -> dict[str, list[str]]:
    """The metric, param and tag keys the runs ``run_ids`` and a sample of their children
    have (for the column picker, and the default columns of a table of sweeps)."""
    keys: dict[str, set[str]] = {entity: set() for entity in _TABLES}
    ids = list(run_ids)
    with sql.engine.connect() as conn:
        for chunk in _chunks(list(run_ids)):
            children = select(m.runs.c.run_id).where(m.runs.c.parent_run_id.in_(chunk))
            ids.extend(conn.execute(children.limit(_CHILD_SAMPLE)).scalars())
        for entity, table in _TABLES.items():
            for chunk in _chunks(ids):
                query = select(table.c.key).where(table.c.run_id.in_(chunk)).distinct()
                keys[entity].update(conn.execute(query.limit(limit)).scalars())
    return {entity: sorted(found)[:limit] for entity, found in keys.items()}


def histories(
    sql: SqlStore, run_ids: Sequence[str], key: str
) -> dict[str, tuple[list[int], list[float]]]:
    """{run_id: (steps, values)} of metric ``key`` for many runs, a query per 500 runs
    (the sweep page's intermediate values: one read, not one per trial); NaN for a value
    stored as NULL."""
    t, series = m.metrics.c, m.latest_metrics.c
    found: dict[str, tuple[list[int], list[float]]] = {}
    with sql.engine.connect() as conn:
        for chunk in _chunks(list(run_ids)):
            query = (
                select(series.run_id, t.step, t.value)
                .join_from(m.latest_metrics, m.metrics, t.series_id == series.series_id)
                .where(series.run_id.in_(chunk), series.key == key)
                .order_by(series.run_id, t.step, t.timestamp)
            )
            for rid, step, value in conn.execute(query):
                steps, values = found.setdefault(rid, ([], []))
                steps.append(step)
                values.append(math.nan if value is None else value)
    return found


def _plottable(value: float | None) -> float | None:
    """A stored value as a chart's y: NaN (stored as NULL) and ±inf become a gap."""
    return value if value is not None and math.isfinite(value) else None


def chart_series(
    sql: SqlStore, run_id: str, key: str, points: int, max_points: int = DEFAULT_POINTS
) -> tuple[list[int], list[float | None]]:
    """At most ``max_points`` (step, value) points of metric ``key`` of one run (``points``
    of them stored, as :func:`metric_ranges` counts), downsampled by the database.

    A series that fits comes back whole. A longer one is cut into ``max_points // 2``
    buckets of equal step width; each keeps its smallest and largest finite value, each at
    the first step that has it, so every spike and dip shows. A bucket with no finite value
    is a gap (``None``) at its first step (NaN and ±inf are not plottable). Each bucket is
    a range of ``ix_metrics_history``, read there: no point but the kept ones leaves the
    database.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    t = m.metrics.c
    steps: list[int] = []
    values: list[float | None] = []
    with sql.engine.connect() as conn:
        series_id = conn.execute(select(m.series_of(run_id, key))).scalar()
        if series_id is None:
            return [], []
        series = t.series_id == series_id
        if points <= max_points:
            rows = conn.execute(select(t.step, t.value).where(series).order_by(t.step, t.timestamp))
            for step, value in rows:
                steps.append(step)
                values.append(_plottable(value))
            return steps, values
        lowest = select(func.min(t.step)).where(series).scalar_subquery()
        highest = select(func.max(t.step)).where(series).scalar_subquery()
        first, last = conn.execute(select(lowest, highest)).one()
        if first is None:
            return [], []
        kept = conn.execute(_bucket_extremes(series_id, first, last, max_points // 2)).all()
    for start, low, low_step, high, high_step in kept:
        picks = [(start, None)] if low is None else sorted({(low_step, low), (high_step, high)})
        for step, value in picks:
            steps.append(step)
            values.append(value)
    return steps, values


def _bucket_extremes(series_id: int, first: int, last: int, count: int) -> Any:
    """(first step, min, its first step, max, its first step) of each non-empty bucket of
    ``count`` equal step ranges from ``first`` to ``last`` of one series, in step order; min
    and max over the finite values only (NULL when there is none)."""
    width = (last - first) // count + 1
    numbers = select(literal(0, BigInteger).label("b")).cte("buckets", recursive=True)
    numbers = numbers.union_all(select(numbers.c.b + 1).where(numbers.c.b + 1 < count))

    def of_bucket(bucket: Any, column: str, fn: Any, where: Any = None) -> Any:
        """``fn`` of ``column`` over the bucket's points (those ``where(point)`` keeps)."""
        point = m.metrics.alias()
        start = first + bucket * width
        query = (
            select(fn(point.c[column]))
            .where(point.c.series_id == series_id)
            .where(point.c.step >= start, point.c.step < start + width)
        )
        return (query if where is None else query.where(where(point))).scalar_subquery()

    def finite(point: Any) -> Any:
        return (point.c.value > -math.inf) & (point.c.value < math.inf)

    b = numbers.c.b
    extremes = (
        select(
            b,
            of_bucket(b, "step", func.min).label("start"),
            of_bucket(b, "value", func.min, finite).label("low"),
            of_bucket(b, "value", func.max, finite).label("high"),
        )
        .cte("extremes")
        .prefix_with("MATERIALIZED")  # each bucket's min and max once, not once per point
    )
    e = extremes.c

    def step_of(value: Any) -> Any:
        return of_bucket(e.b, "step", func.min, lambda point: point.c.value == value)

    return (
        select(e.start, e.low, step_of(e.low), e.high, step_of(e.high))
        .where(e.start.is_not(None))
        .order_by(e.b)
    )


MAX_GROUPS = 200


@dataclass
class Group:
    """Runs sharing one value of a param: how many, and each metric's mean and std."""

    value: str | None
    runs: int
    stats: dict[str, tuple[float, float | None, int]]  # metric: (mean, sample std, n)


def group_stats(
    sql: SqlStore,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    param: str,
    metrics: Sequence[str],
) -> list[Group]:
    """The matching runs (trials included) grouped by ``param``'s value, with mean ± sample
    std of each metric in ``metrics``, largest groups first. One query, two passes over the
    runs (the means, then the squared deviations from them: no cancellation)."""
    eids = [sql.experiment_key(e) for e in experiment_ids]
    r = m.runs.c
    p = m.params.alias("grouped_by")
    joined: Any = m.runs.outerjoin(p, (p.c.run_id == r.run_id) & (p.c.key == param))
    values: list[Any] = [p.c.value.label("value"), r.run_id.label("run_id")]
    for i, key in enumerate(metrics):
        t = m.latest_metrics.alias(f"metric_{i}")
        joined = joined.outerjoin(t, (t.c.run_id == r.run_id) & (t.c.key == key))
        values.append(t.c.value.label(f"m{i}"))
    base_query = (
        select(*values)
        .select_from(joined)
        .where(
            r.experiment_id.in_(eids),
            r.lifecycle_stage.in_([s.value for s in ViewType.ACTIVE_ONLY.stages()]),
        )
    )
    clause = run_filter_clause(parse_filter(filter_string), eids)
    if clause is not None:
        base_query = base_query.where(clause)
    base = base_query.cte("matching")
    means = (
        select(
            base.c.value, *(func.avg(base.c[f"m{i}"]).label(f"m{i}") for i in range(len(metrics)))
        )
        .group_by(base.c.value)
        .cte("means")
    )
    columns: list[Any] = [base.c.value, func.count(base.c.run_id)]
    for i in range(len(metrics)):
        x, mean = base.c[f"m{i}"], means.c[f"m{i}"]
        columns += [func.count(x), func.avg(x), func.sum((x - mean) * (x - mean))]
    query = (
        select(*columns)
        .select_from(base.join(means, base.c.value.is_not_distinct_from(means.c.value)))
        .group_by(base.c.value)
        .order_by(func.count(base.c.run_id).desc(), base.c.value)
        .limit(MAX_GROUPS)
    )

    def read() -> list[Group]:
        with sql.engine.connect() as conn:
            found = conn.execute(query).all()
        groups = []
        for value, runs, *aggregates in found:
            stats = {}
            for i, key in enumerate(metrics):
                n, mean, squares = aggregates[3 * i : 3 * i + 3]
                if n:
                    std = math.sqrt(squares / (n - 1)) if n > 1 else None
                    stats[key] = (mean, std, n)
            groups.append(Group(value, runs, stats))
        return groups

    return with_retry(read)
