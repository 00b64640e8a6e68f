"""Ingest benchmark: how fast can a training loop log metric points?

Rows, all measured in this one process run, each into its own fresh SQLite file:

* ours: ``tunetrack.log_metric`` in a loop, N points (default 1,000,000);
* ours: ``Client.log_batch`` with 1,000 points per call (for comparison with mlflow's);
* the limit: the same rows, same ``metrics`` table schema (created from tunetrack's
  SQLAlchemy metadata), inserted with plain ``sqlite3`` ``executemany`` in one transaction,
  WAL journal mode;
* mlflow (if installed): synchronous ``log_metric``, asynchronous ``log_metric``
  (``synchronous=False``, default and with a 1 s buffering interval) and
  ``MlflowClient.log_batch``, on a sample of points and scaled to N.

End-to-end time is wall clock from the first call until everything is durably written
(``end_run()`` / ``flush()`` / ``COMMIT`` returned). The full-size rows run ``--repeats``
times, interleaved (raw, ours, ours batch, raw, ...) into fresh files so that they share the
machine's load; the best time of each is shown. Per-call latency is measured in a
*separate* run so that the timer itself does not slow down the end-to-end figure.

Usage::

    python benchmarks/ingest.py [--points 1000000] [--mlflow-points 2000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import os
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

KEYS = ("loss", "accuracy", "learning_rate", "grad_norm")
BATCH = 1000  # points per log_batch call (mlflow's limit per request is 1000 metrics)
PER_CALL_SAMPLE = 100_000  # calls timed one by one for the latency percentiles
TARGET_RATIO = 0.5  # end-to-end >= 0.5x raw sqlite3
TARGET_MEDIAN_US = 2.0  # median log_metric call <= 2 us


@dataclass
class Points:
    """The points every contender logs: key, value and step for each point."""

    keys: list[str]
    values: list[float]
    steps: list[int]

    def __len__(self) -> int:
        return len(self.keys)

    def head(self, n: int) -> Points:
        return Points(self.keys[:n], self.values[:n], self.steps[:n])


def make_points(n: int) -> Points:
    """``n`` points over 4 keys, like a training loop logging 4 metrics per step."""
    nk = len(KEYS)
    keys = [KEYS[i % nk] for i in range(n)]
    values = [1.0 / (1.0 + i) + (i % 7) * 1e-3 for i in range(n)]
    steps = [i // nk for i in range(n)]
    return Points(keys, values, steps)


@dataclass
class Result:
    name: str
    points: int | None = None  # points actually logged (the sample for mlflow)
    seconds: float | None = None  # end-to-end wall clock for those points
    median_us: float | None = None  # median single call
    p99_us: float | None = None
    note: str = ""

    @property
    def pps(self) -> float | None:
        if not self.points or not self.seconds:
            return None
        return self.points / self.seconds


def timer_overhead_ns() -> float:
    """Median cost of one ``perf_counter_ns()`` pair with nothing between (for reference)."""
    pc = time.perf_counter_ns
    samples = []
    for _ in range(10_000):
        t0 = pc()
        samples.append(pc() - t0)
    return statistics.median(samples)


def percentiles_us(durations_ns: list[int]) -> tuple[float, float]:
    durations_ns = sorted(durations_ns)
    median = statistics.median(durations_ns)
    p99 = durations_ns[min(len(durations_ns) - 1, int(len(durations_ns) * 0.99))]
    return median / 1000.0, p99 / 1000.0


def time_each_call(call: Callable[[str, float, int], object], pts: Points) -> list[int]:
    """Call ``call(key, value, step)`` for every point, timing each call on its own."""
    pc = time.perf_counter_ns
    out = []
    append = out.append
    for k, v, s in zip(pts.keys, pts.values, pts.steps, strict=True):
        t0 = pc()
        call(k, v, s)
        append(pc() - t0)
    return out


def count_metric_rows(db: Path, run_id: str, run_column: str = "run_id") -> int:
    """Points stored for one run, read back with plain sqlite3 (outside every timing)."""
    con = sqlite3.connect(db)
    try:
        sql = f"SELECT COUNT(*) FROM metrics WHERE {run_column} = ?"
        return con.execute(sql, (run_id,)).fetchone()[0]
    finally:
        con.close()


# -- the limit: raw sqlite3 --------------------------------------------------------------


def bench_raw_sqlite(db: Path, pts: Points) -> tuple[int, float]:
    """Insert the points with plain sqlite3; return (rows stored, seconds)."""
    import sqlalchemy

    from tunetrack.store.sql.models import metadata

    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    engine.dispose()

    con = sqlite3.connect(db, isolation_level=None)  # autocommit; explicit BEGIN/COMMIT
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # what tunetrack's SQLite engine uses with WAL
    now = int(time.time() * 1000)
    run_id = "0" * 32
    # A real experiment + run row so the rows are valid under the schema's foreign keys.
    con.execute(
        "INSERT INTO experiments(name, artifact_location, lifecycle_stage, creation_time,"
        " last_update_time) VALUES ('bench', '', 'active', ?, ?)",
        (now, now),
    )
    con.execute(
        "INSERT INTO runs(run_id, experiment_id, run_name, user_id, status, start_time,"
        " lifecycle_stage, artifact_uri) VALUES (?, 1, 'raw', '', 'RUNNING', ?, 'active', '')",
        (run_id, now),
    )

    gc.collect()
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO metrics(run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)",
        zip(repeat(run_id), pts.keys, pts.steps, repeat(now), pts.values),
    )
    con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    con.close()
    return count_metric_rows(db, run_id), seconds


# -- ours -------------------------------------------------------------------------------


def bench_ours_log_metric(db: Path, pts: Points) -> tuple[int, float]:
    """End to end, no timer inside the loop; return (rows stored, seconds)."""
    import tunetrack

    tunetrack.set_tracking_uri(f"sqlite:///{db}")
    tunetrack.set_experiment("bench")
    run_id = tunetrack.start_run(run_name="end-to-end").info.run_id
    gc.collect()
    t0 = time.perf_counter()
    for k, v, s in zip(pts.keys, pts.values, pts.steps, strict=True):
        tunetrack.log_metric(k, v, step=s)
    tunetrack.end_run()  # returns once the batched writer has committed everything
    seconds = time.perf_counter() - t0
    return count_metric_rows(db, run_id), seconds


def ours_call_latency(db: Path, pts: Points) -> tuple[float, float]:
    """(median, p99) in us of one ``log_metric`` call, in a run of its own.

    Every call is timed individually with perf_counter_ns (not blocks of 100 divided by
    100), so the median and p99 are true single-call figures, including the occasional
    call that waits on a full buffer. They include the timer's own cost (printed).
    """
    import tunetrack

    tunetrack.set_tracking_uri(f"sqlite:///{db}")
    tunetrack.set_experiment("bench")
    tunetrack.start_run(run_name="per-call")
    pc = time.perf_counter_ns
    durations = []
    append = durations.append
    gc.collect()
    for k, v, s in zip(pts.keys, pts.values, pts.steps, strict=True):
        t0 = pc()
        tunetrack.log_metric(k, v, step=s)
        append(pc() - t0)
    tunetrack.end_run()
    return percentiles_us(durations)


def bench_ours_log_batch(db: Path, pts: Points) -> tuple[int, float]:
    """``Client.log_batch`` with BATCH points per call; return (rows stored, seconds)."""
    import tunetrack
    from tunetrack.entities import Metric

    client = tunetrack.Client(f"sqlite:///{db}")
    exp_id = client.create_experiment("bench-batch")
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id

    gc.collect()
    t0 = time.perf_counter()
    for i in range(0, len(pts), BATCH):
        now = int(time.time() * 1000)
        batch = [
            Metric(k, v, now, s)
            for k, v, s in zip(
                pts.keys[i : i + BATCH],
                pts.values[i : i + BATCH],
                pts.steps[i : i + BATCH],
                strict=True,
            )
        ]
        client.log_batch(run_id, metrics=batch)
    client.flush()
    seconds = time.perf_counter() - t0
    return count_metric_rows(db, run_id), seconds


def bench_full_size(tmp: Path, pts: Points, repeats: int) -> tuple[Result, Result, Result]:
    """Raw, ours log_metric and ours log_batch, interleaved ``repeats`` times (each time
    into fresh files, so all three see the same machine load); best time of each kept."""
    rows: dict[str, set[int]] = {"raw": set(), "ours": set(), "batch": set()}
    best = {"raw": float("inf"), "ours": float("inf"), "batch": float("inf")}
    benches = {
        "raw": bench_raw_sqlite,
        "ours": bench_ours_log_metric,
        "batch": bench_ours_log_batch,
    }
    for rep in range(repeats):
        for name, bench in benches.items():
            stored, seconds = bench(tmp / f"{name}-{rep}.db", pts)
            rows[name].add(stored)
            best[name] = min(best[name], seconds)

    def result(name: str, label: str, note: str = "") -> Result:
        stored = rows[name].pop() if len(rows[name]) == 1 else -1
        if stored != len(pts):
            note = f"WARNING: stored {sorted(rows[name])} rows, logged {len(pts):,}. {note}"
        return Result(label, stored, best[name], note=note)

    best_of = f"best of {repeats}"
    return (
        result("raw", "raw sqlite3 executemany (limit)", f"{best_of}; 1 txn, WAL, sync=NORMAL"),
        result("ours", "ours: tunetrack.log_metric loop", best_of),
        result("batch", f"ours: Client.log_batch ({BATCH}/call)", best_of),
    )


# -- mlflow -----------------------------------------------------------------------------


def _quiet_mlflow() -> None:
    """Call after importing mlflow (its import configures its own loggers)."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def bench_mlflow(tmp: Path, sample_n: int, batch_n: int) -> list[Result]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric as MlflowMetric

    _quiet_mlflow()
    db = tmp / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("bench")  # creates + migrates the database, outside the timings
    pts = make_points(sample_n)
    results: list[tuple[Result, str]] = []  # (result, mlflow run id) for the row count

    # Synchronous log_metric: each call costs milliseconds, so timing each call inside
    # the same loop changes nothing measurable; one loop gives end-to-end and per-call.
    run_id = mlflow.start_run(run_name="sync").info.run_id
    gc.collect()
    t0 = time.perf_counter()
    durations = time_each_call(lambda k, v, s: mlflow.log_metric(k, v, step=s), pts)
    mlflow.end_run()
    seconds = time.perf_counter() - t0
    row = Result("mlflow: log_metric (sync)", sample_n, seconds, *percentiles_us(durations))
    results.append((row, run_id))

    # Async log_metric with default settings, then with a 1 s buffering interval (mlflow's
    # logging thread reads that environment variable on every iteration). Per-call times
    # come from the same loop (the calls cost tens of us; the timer ~0.1 us).
    flush = getattr(mlflow, "flush_async_logging", None)
    for label, buffering in (("", None), (", buffered 1 s", "1")):
        name = f"mlflow: log_metric (async{label})"
        if flush is None:
            results.append((Result(name, note="n/a: no mlflow.flush_async_logging"), ""))
            continue
        if buffering:
            os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = buffering
        try:
            run_id = mlflow.start_run(run_name=f"async{label}").info.run_id
            gc.collect()
            t0 = time.perf_counter()
            durations = time_each_call(
                lambda k, v, s: mlflow.log_metric(k, v, step=s, synchronous=False), pts
            )
            flush()
            mlflow.end_run()
            seconds = time.perf_counter() - t0
        finally:
            os.environ.pop("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", None)
        results.append((Result(name, sample_n, seconds, *percentiles_us(durations)), run_id))

    # MlflowClient.log_batch, 1000 metrics per call.
    bpts = make_points(batch_n)
    client = MlflowClient()
    exp_id = mlflow.get_experiment_by_name("bench").experiment_id
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id
    gc.collect()
    t0 = time.perf_counter()
    for i in range(0, batch_n, BATCH):
        now = int(time.time() * 1000)
        batch = [
            MlflowMetric(k, v, now, s)
            for k, v, s in zip(
                bpts.keys[i : i + BATCH],
                bpts.values[i : i + BATCH],
                bpts.steps[i : i + BATCH],
                strict=True,
            )
        ]
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    seconds = time.perf_counter() - t0
    row = Result(f"mlflow: MlflowClient.log_batch ({BATCH}/call)", batch_n, seconds)
    results.append((row, run_id))

    # Check every point landed, as for the other rows.
    for row, run_id in results:
        if row.points:
            stored = count_metric_rows(db, run_id, run_column="run_uuid")
            if stored != row.points:
                row.note = f"WARNING: {stored:,} rows stored, {row.points:,} logged"
    return [row for row, _ in results]


def mlflow_missing_rows() -> list[Result]:
    names = [
        "mlflow: log_metric (sync)",
        "mlflow: log_metric (async)",
        "mlflow: log_metric (async, buffered 1 s)",
        f"mlflow: MlflowClient.log_batch ({BATCH}/call)",
    ]
    return [Result(n, note="not installed") for n in names]


# -- output -----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[Result], n: int, raw: Result) -> None:
    raw_pps = raw.pps
    header = (
        f"{'method':<44} {'points':>10} {'wall s':>9} {'points/s':>12} {'us/point':>9} "
        f"{'est. s @' + format(n, ','):>16} {'x raw':>7} {'median us':>10} {'p99 us':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        pps = r.pps
        est = n / pps if pps else None
        ratio = pps / raw_pps if pps and raw_pps else None
        us_point = 1e6 / pps if pps else None
        print(
            f"{r.name:<44} {_fmt(r.points, ',d'):>10} {_fmt(r.seconds, '.3f'):>9} "
            f"{_fmt(pps, ',.0f'):>12} {_fmt(us_point, '.2f'):>9} {_fmt(est, ',.1f'):>16} "
            f"{_fmt(ratio, '.3f'):>7} {_fmt(r.median_us, '.2f'):>10} {_fmt(r.p99_us, '.2f'):>9}"
            f"  {r.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points for ours/raw")
    parser.add_argument(
        "--mlflow-points", type=int, default=2_000, help="sample for mlflow log_metric rows"
    )
    parser.add_argument(
        "--mlflow-batch-points", type=int, default=20_000, help="sample for mlflow log_batch"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="end-to-end repeats of ours/raw (best kept)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.points, args.mlflow_points, args.mlflow_batch_points = 50_000, 200, 2_000
        args.repeats = 1
    n = args.points
    per_call_n = min(n, PER_CALL_SAMPLE)

    pts = make_points(n)
    have_mlflow = importlib.util.find_spec("mlflow") is not None

    with tempfile.TemporaryDirectory(prefix="tunetrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        raw, ours, ours_batch = bench_full_size(tmp, pts, args.repeats)
        ours.median_us, ours.p99_us = ours_call_latency(tmp / "latency.db", pts.head(per_call_n))
        ours.note += f"; latency over {per_call_n:,} calls"
        if have_mlflow:
            peers = bench_mlflow(tmp, args.mlflow_points, args.mlflow_batch_points)
        else:
            peers = mlflow_missing_rows()

    print(f"\nIngest: {n:,} metric points ({len(KEYS)} keys) into a fresh SQLite file each")
    print(
        "end-to-end = first call until end_run()/flush()/COMMIT returned; mlflow rows are "
        "samples scaled to the full size (est. s)"
    )
    print()
    print_table([ours, ours_batch, raw, *peers], n, raw)
    print()
    print(
        f"per-call latency: each call timed alone with perf_counter_ns in a separate run; "
        f"timer pair costs ~{timer_overhead_ns():.0f} ns (included in the figures)"
    )

    ratio = ours.pps / raw.pps
    print(
        f"target end-to-end >= {TARGET_RATIO}x raw sqlite3: {ratio:.3f}x -> "
        f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
    )
    print(
        f"target median log_metric call <= {TARGET_MEDIAN_US} us: {ours.median_us:.2f} us -> "
        f"{'PASS' if ours.median_us <= TARGET_MEDIAN_US else 'FAIL'}"
    )
    for peer in peers:
        if peer.pps:
            print(f"ours log_metric vs {peer.name}: {ours.pps / peer.pps:,.0f}x points/s")
    if have_mlflow and peers[-1].pps:
        print(
            f"ours Client.log_batch vs {peers[-1].name}: "
            f"{ours_batch.pps / peers[-1].pps:,.1f}x points/s"
        )


if __name__ == "__main__":
    main()
