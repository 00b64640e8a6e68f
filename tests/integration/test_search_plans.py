"""How SQLite plans a search page sorted by a metric: it walks the sort metric's index and
checks the filter run by run (a primary-key lookup per condition), stopping when the page is
full, instead of first building every condition's set of matching runs (at 1,000,000 runs
that took two seconds; benchmarks/scale.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tunetrack.entities import Metric, Param
from tunetrack.store.sql.store import SqlStore

FILTER = "metrics.m0 > 0.5 and params.p0 = 'a' and tags.team = 'x'"


def _page_plan(tmp_path: Path, order_by: list[str]) -> tuple[str, list[str]]:
    """The plan of the query that reads the page, and the names of the runs found."""
    db = tmp_path / "plans.db"
    store = SqlStore(f"sqlite:///{db}", default_artifact_root=str(tmp_path))
    exp = store.create_experiment("plans")
    for i in range(40):
        run_id = store.create_run(exp, start_time=i, run_name=f"r{i}").info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric("m0", (i % 4) / 3, 0, 0), Metric("m1", i / 40, 0, 0)],
            params=[Param("p0", "ab"[i % 2])],
        )
        store.set_tag(run_id, "team", "xy"[i % 3 % 2])
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM runs" in statement and "LIMIT" in statement:
            statements.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    found = store.search_runs([exp], FILTER, order_by=order_by, max_results=5)
    store.close()
    statement, params = statements[0]
    with sqlite3.connect(db) as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
    return "\n".join(row[-1] for row in plan), [r.info.run_name for r in found]


def test_a_page_sorted_by_a_metric_checks_the_filter_run_by_run(tmp_path: Path) -> None:
    plan, names = _page_plan(tmp_path, ["metrics.m1 DESC"])
    matching = [i for i in range(40) if (i % 4) / 3 > 0.5 and i % 2 == 0 and i % 3 % 2 == 0]
    assert names == [f"r{i}" for i in sorted(matching, reverse=True)[:5]]
    assert "ix_latest_metrics_exp_key_value_run" in plan  # the sort metric's index walked
    assert "LIST SUBQUERY" not in plan, plan  # no set of matching runs built first
    assert plan.count("CORRELATED SCALAR SUBQUERY") == 3, plan  # one lookup per condition
