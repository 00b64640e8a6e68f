"""The run page's charts are downsampled by the database (reads.chart_series), on every SQL
backend: bounded size, every spike and dip at its own step, gaps for what is not plottable."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunetrack.server.ui.reads import chart_series, metric_ranges
from tunetrack.store.sql.store import SqlStore

BIG_STEP = 1_700_000_000_000  # steps may be epoch milliseconds


@pytest.fixture
def sql_store(db_uri: str, tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(db_uri, default_artifact_root=str(tmp_path))
    try:
        yield store
    finally:
        store.close()


def _run_with(store: SqlStore, points: dict[str, list[tuple[int, float]]]) -> str:
    run_id = store.create_run(store.create_experiment("charts"), start_time=1).info.run_id
    rows = [(run_id, key, s, 1, v) for key, series in points.items() for s, v in series]
    store.log_metric_rows(rows)
    return run_id


def _series(store: SqlStore, run_id: str, key: str, budget: int) -> tuple[list, list]:
    points = metric_ranges(store, run_id)[key][2]
    return chart_series(store, run_id, key, points, budget)


def test_a_series_that_fits_comes_back_whole_with_non_finite_values_as_gaps(
    sql_store: SqlStore,
) -> None:
    values = [1.0, math.nan, math.inf, -2.5, -math.inf]
    run_id = _run_with(sql_store, {"m": list(enumerate(values))})
    assert _series(sql_store, run_id, "m", 10) == ([0, 1, 2, 3, 4], [1.0, None, None, -2.5, None])


def test_a_long_series_keeps_each_spike_and_dip_at_its_step_within_the_budget(
    sql_store: SqlStore,
) -> None:
    steps = [BIG_STEP + 3 * i for i in range(6000)]  # uneven start, even spacing
    values = [math.sin(i / 300) for i in range(6000)]
    values[4321] = 40.0
    values[17] = -40.0
    values[2000:2400] = [math.nan] * 400  # a stretch with nothing plottable
    values[3000] = math.inf
    run_id = _run_with(sql_store, {"m": list(zip(steps, values, strict=True))})
    xs, ys = _series(sql_store, run_id, "m", 100)
    assert len(xs) == len(ys) <= 100
    assert xs == sorted(xs)
    assert (steps[4321], 40.0) in zip(xs, ys, strict=True)
    assert (steps[17], -40.0) in zip(xs, ys, strict=True)
    gaps = [x for x, y in zip(xs, ys, strict=True) if y is None]
    assert gaps
    assert all(steps[2000] <= x < steps[2400] for x in gaps)
    finite = [v for v in values if math.isfinite(v)]
    assert {y for y in ys if y is not None} <= set(finite)


def test_a_constant_series_comes_back_as_one_point_per_bucket(sql_store: SqlStore) -> None:
    run_id = _run_with(sql_store, {"m": [(s, 0.5) for s in range(5000)]})
    xs, ys = _series(sql_store, run_id, "m", 50)
    assert len(xs) == 25
    assert set(ys) == {0.5}
    assert xs[0] == 0


def test_only_the_chosen_metric_of_the_run_is_charted(sql_store: SqlStore) -> None:
    run_id = _run_with(
        sql_store, {"a": [(s, 1.0) for s in range(300)], "b": [(s, 99.0) for s in range(300)]}
    )
    _, ys = _series(sql_store, run_id, "a", 20)
    assert set(ys) == {1.0}
