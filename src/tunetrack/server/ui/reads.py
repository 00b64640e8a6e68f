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

from sqlalchemy import Connection, func, or_, select

from tunetrack import _validation as v
from tunetrack.entities import RunInfo, ViewType
from tunetrack.errors import InvalidInput
from tunetrack.search import parse_filter, parse_order_by
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry
from tunetrack.store.sql.filters import run_filter_clause, run_order_clauses
from tunetrack.store.sql.paging import PageToken
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
    query = select(m.runs).where(
        m.runs.c.experiment_id.in_(eids),
        m.runs.c.lifecycle_stage.in_([s.value for s in ViewType.ACTIVE_ONLY.stages()]),
    )
    clause = run_filter_clause(parse_filter(filter_string), eids)
    r = m.runs.c
    if parent is not None:
        query = query.where(r.parent_run_id == parent)
    elif nested:
        query = query.where(r.parent_run_id.is_(None))
    if clause is not None and nested:
        matching_children = (
            select(r.parent_run_id)
            .where(r.parent_run_id.is_not(None), r.experiment_id.in_(eids), clause)
            .correlate(None)
        )
        clause = or_(clause, r.run_id.in_(matching_children))
    if clause is not None:
        query = query.where(clause)
    order = run_order_clauses(parse_order_by(order_by))

    def read() -> RunPage:
        with sql.engine.connect() as conn:
            until = token.until
            if until is None:
                until = conn.execute(
                    select(func.max(m.runs.c.start_time)).where(m.runs.c.experiment_id.in_(eids))
                ).scalar()
            page = query.where(m.runs.c.start_time <= (until or 0)).order_by(*order)
            found = conn.execute(page.offset(token.offset).limit(max_results + 1)).all()
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
    t = m.metrics.c
    query = (
        select(t.key, func.min(t.value), func.max(t.value), func.count())
        .where(t.run_id == run_id)
        .group_by(t.key)
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
    t = m.metrics.c
    found: dict[str, tuple[list[int], list[float]]] = {}
    with sql.engine.connect() as conn:
        for chunk in _chunks(list(run_ids)):
            query = (
                select(t.run_id, t.step, t.value)
                .where(t.run_id.in_(chunk), t.key == key)
                .order_by(t.run_id, t.step, t.timestamp)
            )
            for rid, step, value in conn.execute(query):
                steps, values = found.setdefault(rid, ([], []))
                steps.append(step)
                values.append(math.nan if value is None else value)
    return found


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
