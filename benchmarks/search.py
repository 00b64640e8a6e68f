"""Search benchmark: filter + sort over many runs of one experiment.

N runs (default 10,000), each with 10 params, 5 metrics and 3 tags, in one experiment.
Query: ``metrics.m0 > 0.5 and params.p0 = 'a'`` ordered by ``metrics.m1 DESC``, with
``max_results`` 100 and 10,000. Rows, all measured in this one process run:

* ours: ``Client.search_runs`` (returns Runs) and ``tunetrack.search_runs`` (DataFrame);
* the limit: hand-written SQL with plain ``sqlite3`` on the very file tunetrack wrote
  (one indexed SELECT for the page, then the page's runs, params, tags and latest metrics);
* mlflow (if installed): ``MlflowClient.search_runs`` and ``mlflow.search_runs``
  (DataFrame) over the same runs, loaded through ``MlflowClient`` (create_run + log_batch).

tunetrack and mlflow each load the same N runs into a fresh SQLite file of their own, with
their own default settings (``journal_mode`` and ``synchronous``, read back from the
connection each one used, are printed). Each query runs once untimed (warm-up), then
``--repeats`` times; best and median shown.

Usage::

    python benchmarks/search.py [--runs 10000] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import logging
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _sqlite_durability import SqliteEngines, read_settings

FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
PAGE_SIZES = (100, 10_000)
TARGET_MS = 50.0  # ours, max_results=100 (issue 2)


@dataclass
class RunSpec:
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def make_runs(n: int, seed: int = 0) -> list[RunSpec]:
    """``n`` runs: 10 params (p0 has 4 values), 5 uniform metrics, 3 tags."""
    rng = random.Random(seed)
    runs = []
    for i in range(n):
        params = {"p0": rng.choice("abcd")}
        params.update({f"p{j}": str(rng.randint(0, 1000)) for j in range(1, 10)})
        metrics = {f"m{j}": rng.random() for j in range(5)}
        tags = {
            "team": rng.choice(("vision", "nlp", "tabular")),
            "owner": f"user{rng.randint(0, 20)}",
            "stage": rng.choice(("dev", "prod")),
        }
        runs.append(RunSpec(f"run-{i:05d}", params, metrics, tags))
    return runs


@dataclass
class QueryTiming:
    rows: int
    best_ms: float
    median_ms: float


@dataclass
class Result:
    name: str
    load_s: float | None = None
    timings: dict[int, QueryTiming] = field(default_factory=dict)
    agrees: bool | None = None  # same runs in the same order as the raw limit
    note: str = ""
    durability: str = ""  # journal_mode and synchronous of the connection it used


def time_query(fn: Callable[[], Sequence], repeats: int) -> tuple[QueryTiming, Sequence]:
    """Warm up once, then time ``repeats`` calls with perf_counter."""
    result = fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return QueryTiming(len(result), min(times), statistics.median(times)), result


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_contender(
    result: Result,
    queries: dict[int, Callable[[], Sequence]],
    names_of: Callable[[Sequence], list[str]],
    expected: dict[int, list[str]] | None,
    repeats: int,
) -> None:
    """Time every page size; record whether the result matches the limit's run names."""
    agrees = True
    for size, fn in queries.items():
        try:
            timing, out = time_query(fn, repeats)
        except Exception as exc:
            traceback.print_exc()
            result.note = f"ERROR: {exc.__class__.__name__}: {exc}"[:200]
            return
        result.timings[size] = timing
        if expected is not None:
            agrees = agrees and names_of(out) == expected[size]
    result.agrees = agrees if expected is not None else None


# -- ours -------------------------------------------------------------------------------


def load_ours(db: Path, runs: list[RunSpec]) -> tuple[str, float]:
    import tunetrack
    from tunetrack.entities import Metric, Param

    client = tunetrack.Client(f"sqlite:///{db}")
    exp_id = client.create_experiment("search-bench")
    t0 = time.perf_counter()
    load_runs(client, exp_id, runs, Metric, Param, "ours", 2000)
    client.flush()
    return exp_id, time.perf_counter() - t0


def load_runs(
    client: Any, exp_id: str, runs: list[RunSpec], metric: Any, param: Any, who: str, every: int
) -> None:
    """Create ``runs`` through a tracking client with the same calls on both sides."""
    for i, spec in enumerate(runs):
        run = client.create_run(exp_id, run_name=spec.name, tags=spec.tags)
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[metric(k, v, now, 0) for k, v in spec.metrics.items()],
            params=[param(k, v) for k, v in spec.params.items()],
        )
        if (i + 1) % every == 0:
            progress(f"  {who}: {i + 1:,} runs loaded")


def ours_queries(db: Path, exp_id: str) -> tuple[Result, Result, dict, dict]:
    import tunetrack

    uri = f"sqlite:///{db}"
    client = tunetrack.Client(uri)
    client_q = {
        size: (
            lambda size=size: client.search_runs(
                [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=size
            )
        )
        for size in PAGE_SIZES
    }
    fluent_q = {}
    if hasattr(tunetrack, "search_runs"):
        tunetrack.set_tracking_uri(uri)
        fluent_q = {
            size: (
                lambda size=size: tunetrack.search_runs(
                    experiment_ids=[exp_id],
                    filter_string=FILTER,
                    order_by=ORDER_BY,
                    max_results=size,
                )
            )
            for size in PAGE_SIZES
        }
    return (
        Result("ours: Client.search_runs -> Runs"),
        Result("ours: tunetrack.search_runs -> DataFrame"),
        client_q,
        fluent_q,
    )


# -- the limit: raw sqlite3 -------------------------------------------------------------

# Two hand-written plans for the page; the limit uses whichever suits the page size.
# Filter first: find the runs matching the filter, then sort them (best for big pages).
_RAW_FILTER_FIRST = """
SELECT r.run_id, r.run_name
FROM runs AS r
JOIN latest_metrics AS f ON f.run_id = r.run_id AND f.key = :fkey
JOIN params AS p ON p.run_id = r.run_id AND p.key = :pkey
JOIN latest_metrics AS o ON o.run_id = r.run_id AND o.key = :okey
WHERE r.experiment_id = :exp AND r.lifecycle_stage = 'active'
  AND f.value > :fmin AND p.value = :pval
ORDER BY o.value DESC
LIMIT :lim
"""
# Sort first: walk the (experiment_id, key, value) index of the sort metric backwards and
# stop after LIMIT matches (best for small pages).
_RAW_SORT_FIRST = """
SELECT r.run_id, r.run_name
FROM latest_metrics AS o
JOIN runs AS r ON r.run_id = o.run_id
JOIN latest_metrics AS f ON f.run_id = o.run_id AND f.key = :fkey
JOIN params AS p ON p.run_id = o.run_id AND p.key = :pkey
WHERE o.experiment_id = :exp AND o.key = :okey AND r.lifecycle_stage = 'active'
  AND f.value > :fmin AND p.value = :pval
ORDER BY o.value DESC
LIMIT :lim
"""


def raw_search(con: sqlite3.Connection, exp_id: int, max_results: int) -> list[dict]:
    """The page, fully materialised: run columns, params, tags, latest metrics per run."""
    sql = _RAW_SORT_FIRST if max_results <= 1000 else _RAW_FILTER_FIRST
    args = {"fkey": "m0", "fmin": 0.5, "pkey": "p0", "pval": "a", "okey": "m1"}
    page = con.execute(sql, {**args, "exp": exp_id, "lim": max_results}).fetchall()
    ids = [run_id for run_id, _ in page]
    runs: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for row in con.execute(f"SELECT * FROM runs WHERE run_id IN ({marks})", chunk):
            runs[row[0]] = {"info": row, "params": {}, "tags": {}, "metrics": {}}
        for table, col in (("params", "value"), ("tags", "value"), ("latest_metrics", "value")):
            sql = f"SELECT run_id, key, {col} FROM {table} WHERE run_id IN ({marks})"
            section = "metrics" if table == "latest_metrics" else table
            for run_id, key, value in con.execute(sql, chunk):
                runs[run_id][section][key] = value
    return [{"run_name": name, **runs[run_id]} for run_id, name in page]


# -- mlflow -----------------------------------------------------------------------------


def _quiet_mlflow() -> None:
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load_mlflow(db: Path, runs: list[RunSpec]) -> tuple[str, float]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    _quiet_mlflow()
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    client = MlflowClient()
    exp_id = client.create_experiment("search-bench")
    t0 = time.perf_counter()
    load_runs(client, exp_id, runs, Metric, Param, "mlflow", 1000)
    return exp_id, time.perf_counter() - t0


def mlflow_queries(exp_id: str) -> tuple[dict, dict]:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    client_q = {
        size: (
            lambda size=size: client.search_runs(
                [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=size
            )
        )
        for size in PAGE_SIZES
    }
    fluent_q = {
        size: (
            lambda size=size: mlflow.search_runs(
                experiment_ids=[exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=size
            )
        )
        for size in PAGE_SIZES
    }
    return client_q, fluent_q


# -- result checks ----------------------------------------------------------------------


def names_of_runs(runs: Sequence) -> list[str]:
    return [r.info.run_name for r in runs]


def names_of_frame(df: object, id_to_name: dict[str, str] | None = None) -> list[str]:
    for col in ("run_name", "tags.mlflow.runName", "attributes.run_name", "info.run_name"):
        if col in df.columns:  # type: ignore[attr-defined]
            return list(df[col])  # type: ignore[index]
    if id_to_name is not None and "run_id" in df.columns:  # type: ignore[attr-defined]
        return [id_to_name.get(i, "?") for i in df["run_id"]]  # type: ignore[index]
    return []


# -- output -----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[Result], raw: Result) -> None:
    head = f"{'method':<42} {'load s':>8}"
    for size in PAGE_SIZES:
        label = f"[{size:,}]"
        head += f" {label + ' rows':>13} {'best ms':>9} {'median ms':>9} {'x raw':>7}"
    head += "  same result  note"
    print(head)
    print("-" * len(head))
    for r in results:
        line = f"{r.name:<42} {_fmt(r.load_s, '.1f'):>8}"
        for size in PAGE_SIZES:
            t = r.timings.get(size)
            base = raw.timings.get(size)
            ratio = t.median_ms / base.median_ms if t and base else None
            line += (
                f" {_fmt(t and t.rows, ',d'):>13} {_fmt(t and t.best_ms, '.2f'):>9}"
                f" {_fmt(t and t.median_ms, '.2f'):>9} {_fmt(ratio, '.1f'):>7}"
            )
        same = "-" if r.agrees is None else ("yes" if r.agrees else "NO")
        print(f"{line}  {same:<11}  {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the experiment")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per query")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeats = 500, 3

    specs = make_runs(args.runs)
    have_mlflow = importlib.util.find_spec("mlflow") is not None
    engines = SqliteEngines()

    with tempfile.TemporaryDirectory(prefix="tunetrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        db = tmp / "tunetrack.db"

        progress(f"loading {args.runs:,} runs into tunetrack ...")
        exp_id, ours_load = load_ours(db, specs)

        # The limit, on the same file.
        raw = Result("raw sqlite3 SQL (limit)", note="same file; hand-written SELECTs")
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        raw.durability = f"{read_settings(con)} (it only reads)"
        raw_q = {
            size: (lambda size=size: raw_search(con, int(exp_id), size)) for size in PAGE_SIZES
        }
        run_contender(raw, raw_q, lambda out: [d["run_name"] for d in out], None, args.repeats)
        expected = {size: [d["run_name"] for d in raw_q[size]()] for size in PAGE_SIZES}
        id_to_name = dict(con.execute("SELECT run_id, run_name FROM runs"))
        con.close()

        ours_client, ours_fluent, client_q, fluent_q = ours_queries(db, exp_id)
        ours_client.load_s = ours_load
        ours_client.durability = ours_fluent.durability = engines.settings_of(db)
        run_contender(ours_client, client_q, names_of_runs, expected, args.repeats)
        if fluent_q:
            names = functools.partial(names_of_frame, id_to_name=id_to_name)
            run_contender(ours_fluent, fluent_q, names, expected, args.repeats)
            if ours_fluent.agrees is False and not names(fluent_q[100]()):
                ours_fluent.agrees, ours_fluent.note = None, "no run_name/run_id column"
        else:
            ours_fluent.note = "n/a: tunetrack.search_runs missing"

        peers = [
            Result("mlflow: MlflowClient.search_runs -> Runs"),
            Result("mlflow: mlflow.search_runs -> DataFrame"),
        ]
        if have_mlflow:
            progress(f"loading {args.runs:,} runs into mlflow (slow) ...")
            m_exp, m_load = load_mlflow(tmp / "mlflow.db", specs)
            peers[0].load_s = m_load
            peers[0].durability = peers[1].durability = engines.settings_of(tmp / "mlflow.db")
            m_client_q, m_fluent_q = mlflow_queries(m_exp)
            run_contender(peers[0], m_client_q, names_of_runs, expected, args.repeats)
            run_contender(peers[1], m_fluent_q, names_of_frame, expected, args.repeats)
        else:
            for p in peers:
                p.note = "not installed"

    print(
        f"\nSearch: {args.runs:,} runs (10 params, 5 metrics, 3 tags) in one experiment; "
        f'filter "{FILTER}", order_by {ORDER_BY}'
    )
    print(
        f"[max_results] columns: rows returned, best and median of {args.repeats} timed calls "
        "after one warm-up; x raw = median / raw median; load s = create_run + log_batch per run"
    )
    print()
    print_table([ours_client, ours_fluent, raw, *peers], raw)
    print()
    print("durability, read back from the connection each contender used:")
    for r in (ours_client, raw, peers[0]):
        print(f"  {r.name:<42} {r.durability or '-'}")
    t100 = ours_client.timings.get(100)
    if t100:
        verdict = "PASS" if t100.median_ms < TARGET_MS else "FAIL"
        print(
            f"target ours < {TARGET_MS:.0f} ms for 100 results: "
            f"{t100.median_ms:.2f} ms median -> {verdict}"
        )
    for peer, mine in ((peers[0], ours_client), (peers[1], ours_fluent)):
        for size in PAGE_SIZES:
            a, b = mine.timings.get(size), peer.timings.get(size)
            if a and b:
                print(
                    f"{mine.name} vs {peer.name} [{size:,}]: "
                    f"{b.median_ms / a.median_ms:,.1f}x faster (median)"
                )
    if ours_client.load_s and peers[0].load_s:
        print(f"load: ours {peers[0].load_s / ours_client.load_s:,.1f}x faster than mlflow")


if __name__ == "__main__":
    main()
