"""Ingest benchmark: how fast can a training loop log metric points?

Contenders, all measured in this one process run:

* ours: ``tunetrack.log_metric`` in a loop, N points (default 1,000,000);
* ours: ``Client.log_batch`` with 1,000 points per call (for comparison with mlflow's);
* the limit: the same rows, same ``metrics`` table schema (created from tunetrack's
  SQLAlchemy metadata), inserted with plain ``sqlite3`` ``executemany`` in one transaction,
  with the journal mode, synchronous setting and WAL checkpoint interval read from a
  connection of tunetrack's own engine on the same file;
* mlflow (if installed): synchronous ``log_metric``, asynchronous ``log_metric``
  (``synchronous=False``, default and with a 1 s buffering interval) and
  ``MlflowClient.log_batch``, each with mlflow's own default SQLite settings.

Fairness: every contender logs into its own fresh database file on every repetition (mlflow's
files are copies of one freshly migrated, empty template, so that its multi-second schema
migration stays out of the loop), and every contender runs ``--repeats`` times, interleaved
(raw, ours, ours batch, mlflow ..., then again) so that all see the same machine load; the
best time of each is shown. Ours and the limit log all N points. mlflow's synchronous calls
run at a few hundred points/s (an hour for N), so its rows log a measured sample and the table
says so: "est. s" is that sample's rate scaled linearly to N. Each contender's
``journal_mode`` and ``synchronous`` are read back from the connection it wrote through.

End-to-end time is wall clock from the first call until everything is durably written
(``end_run()`` / ``flush()`` / ``COMMIT`` returned). Our per-call latency is measured in a
*separate* run so that the timer itself does not slow down the end-to-end figure.

Usage::

    python benchmarks/ingest.py [--points 1000000] [--mlflow-points 2000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import logging
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

from _sqlite_durability import SqliteEngines, read_settings

from tunetrack.store.sql.wal_checkpoints import CHECKPOINT_POINTS

KEYS = ("loss", "accuracy", "learning_rate", "grad_norm")
BATCH = 1000  # points per log_batch call (mlflow's limit per request is 1000 metrics)
PER_CALL_SAMPLE = 100_000  # calls timed one by one for the latency percentiles
TARGET_RATIO = 0.5  # end-to-end >= 0.5x raw sqlite3 (issue 2)
TARGET_MEDIAN_US = 2.0  # median log_metric call <= 2 us (issue 2)


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
class Sample:
    """One timed repetition of one contender."""

    stored: int  # rows found in its database afterwards
    seconds: float  # end to end
    durability: str = ""  # filled from the contender's own connection
    durations_ns: list[int] | None = None  # per call, where the timed loop timed each call


@dataclass
class Contender:
    name: str
    bench: Callable[[Path, Points], Sample] | None  # None: not installed
    points: int = 0  # points it logs each repetition (N, or a measured sample of N)
    note: str = ""
    samples: list[Sample] = field(default_factory=list)
    median_us: float | None = None
    p99_us: float | None = None

    @property
    def best(self) -> Sample | None:
        return min(self.samples, key=lambda s: s.seconds, default=None)

    @property
    def pps(self) -> float | None:
        best = self.best
        return self.points / best.seconds if best and best.seconds else None


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


# tunetrack's points with their runs: a point names its series (run and key)
OUR_POINTS = "metrics p JOIN latest_metrics l USING (series_id)"


def count_metric_rows(
    db: Path, run_id: str, points: str = OUR_POINTS, run_column: str = "l.run_id"
) -> int:
    """Points stored for one run, read back with plain sqlite3 (outside every timing)."""
    con = sqlite3.connect(db)
    try:
        sql = f"SELECT COUNT(*) FROM {points} WHERE {run_column} = ?"
        return con.execute(sql, (run_id,)).fetchone()[0]
    finally:
        con.close()


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the limit: raw sqlite3 --------------------------------------------------------------


# The settings of tunetrack's engine that change what a commit costs.
DURABILITY_PRAGMAS = ("journal_mode", "synchronous", "wal_autocheckpoint")


def bench_raw_sqlite(db: Path, pts: Points) -> Sample:
    """Insert the points with plain sqlite3 under tunetrack's engine settings."""
    from tunetrack.store.sql.engine import make_engine
    from tunetrack.store.sql.models import metadata

    # The schema, and the settings to copy, come from tunetrack's own engine on this file:
    # its connect hooks set them, so a change there reaches the limit too.
    engine = make_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    ours = engine.raw_connection()
    try:
        cur = ours.cursor()
        pragmas = {p: cur.execute(f"PRAGMA {p}").fetchone()[0] for p in DURABILITY_PRAGMAS}
        cur.close()
    finally:
        ours.close()
    engine.dispose()

    con = sqlite3.connect(db, isolation_level=None)  # autocommit; explicit BEGIN/COMMIT
    for name, value in pragmas.items():  # read back and compared with ours when printed
        con.execute(f"PRAGMA {name}={value}")
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
    series = {  # a series per key, as the points' latest values
        key: con.execute(
            "INSERT INTO latest_metrics(run_id, key, experiment_id, step, timestamp, value)"
            " VALUES (?, ?, 1, 0, ?, 0.0)",
            (run_id, key, now),
        ).lastrowid
        for key in dict.fromkeys(pts.keys)
    }
    con.executemany(
        "INSERT INTO metrics(series_id, step, timestamp, value) VALUES (?, ?, ?, ?)",
        zip(map(series.__getitem__, pts.keys), pts.steps, repeat(now), pts.values),
    )
    con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    durability = read_settings(con)
    con.close()
    return Sample(count_metric_rows(db, run_id), seconds, durability)


# -- ours -------------------------------------------------------------------------------


def bench_ours_log_metric(db: Path, pts: Points) -> Sample:
    """End to end, no timer inside the loop."""
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
    return Sample(count_metric_rows(db, run_id), seconds)


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
    gc.collect()
    durations = time_each_call(lambda k, v, s: tunetrack.log_metric(k, v, step=s), pts)
    tunetrack.end_run()
    return percentiles_us(durations)


def log_in_batches(log: Callable[[list], object], metric: type, pts: Points) -> None:
    """Send ``pts`` through ``log(metrics)`` BATCH points per call (ours and mlflow's)."""
    for i in range(0, len(pts), BATCH):
        now = int(time.time() * 1000)
        log(
            [
                metric(k, v, now, s)
                for k, v, s in zip(
                    pts.keys[i : i + BATCH],
                    pts.values[i : i + BATCH],
                    pts.steps[i : i + BATCH],
                    strict=True,
                )
            ]
        )


def bench_ours_log_batch(db: Path, pts: Points) -> Sample:
    """``Client.log_batch`` with BATCH points per call."""
    import tunetrack
    from tunetrack.entities import Metric

    client = tunetrack.Client(f"sqlite:///{db}")
    exp_id = client.create_experiment("bench-batch")
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id

    gc.collect()
    t0 = time.perf_counter()
    log_in_batches(lambda batch: client.log_batch(run_id, metrics=batch), Metric, pts)
    client.flush()
    seconds = time.perf_counter() - t0
    return Sample(count_metric_rows(db, run_id), seconds)


# -- mlflow -----------------------------------------------------------------------------


def _quiet_mlflow() -> None:
    """Call after importing mlflow (its import configures its own loggers)."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def make_mlflow_template(db: Path) -> None:
    """An empty mlflow database at its schema head with the experiment (migrated once)."""
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("bench")


def open_mlflow(template: Path, db: Path) -> str:
    """Point mlflow at ``db``, a fresh copy of the template; return the experiment id."""
    import mlflow

    shutil.copyfile(template, db)
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    return mlflow.set_experiment("bench").experiment_id


def mlflow_rows(db: Path, run_id: str) -> int:
    return count_metric_rows(db, run_id, points="metrics", run_column="run_uuid")


def bench_mlflow_sync(template: Path, db: Path, pts: Points) -> Sample:
    """Synchronous ``mlflow.log_metric``: each call costs milliseconds, so timing each call
    in the same loop changes nothing measurable; one loop gives end-to-end and per-call."""
    import mlflow

    open_mlflow(template, db)
    run_id = mlflow.start_run(run_name="sync").info.run_id
    gc.collect()
    t0 = time.perf_counter()
    durations = time_each_call(lambda k, v, s: mlflow.log_metric(k, v, step=s), pts)
    mlflow.end_run()
    seconds = time.perf_counter() - t0
    return Sample(mlflow_rows(db, run_id), seconds, durations_ns=durations)


def bench_mlflow_async(template: Path, buffering: str | None, db: Path, pts: Points) -> Sample:
    """``log_metric(synchronous=False)``; ``buffering`` sets mlflow's buffering interval (s),
    which its logging thread reads from the environment on every iteration. Per-call times
    come from the same loop (the calls cost tens of us; the timer ~0.1 us)."""
    import mlflow

    open_mlflow(template, db)
    if buffering:
        os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = buffering
    try:
        run_id = mlflow.start_run(run_name="async").info.run_id
        gc.collect()
        t0 = time.perf_counter()
        durations = time_each_call(
            lambda k, v, s: mlflow.log_metric(k, v, step=s, synchronous=False), pts
        )
        mlflow.flush_async_logging()
        mlflow.end_run()
        seconds = time.perf_counter() - t0
    finally:
        os.environ.pop("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", None)
    return Sample(mlflow_rows(db, run_id), seconds, durations_ns=durations)


def bench_mlflow_batch(template: Path, db: Path, pts: Points) -> Sample:
    """``MlflowClient.log_batch`` with BATCH metrics per call."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    exp_id = open_mlflow(template, db)
    client = MlflowClient()
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id
    gc.collect()
    t0 = time.perf_counter()
    log_in_batches(lambda batch: client.log_batch(run_id, metrics=batch), Metric, pts)
    client.set_terminated(run_id)
    seconds = time.perf_counter() - t0
    return Sample(mlflow_rows(db, run_id), seconds)


def mlflow_contenders(template: Path | None, sample_n: int, batch_n: int) -> list[Contender]:
    """mlflow's four ways in, on measured samples; ``template`` None: not installed."""
    batch_name = f"mlflow: MlflowClient.log_batch ({BATCH}/call)"
    if template is None:
        names = [
            "mlflow: log_metric (sync)",
            "mlflow: log_metric (async)",
            "mlflow: log_metric (async, buffered 1 s)",
            batch_name,
        ]
        return [Contender(n, None, note="not installed") for n in names]
    bench = functools.partial
    return [
        Contender("mlflow: log_metric (sync)", bench(bench_mlflow_sync, template), sample_n),
        Contender(
            "mlflow: log_metric (async)", bench(bench_mlflow_async, template, None), sample_n
        ),
        Contender(
            "mlflow: log_metric (async, buffered 1 s)",
            bench(bench_mlflow_async, template, "1"),
            sample_n,
        ),
        Contender(batch_name, bench(bench_mlflow_batch, template), batch_n),
    ]


# -- the run ----------------------------------------------------------------------------


def run_interleaved(
    contenders: list[Contender], pts: Points, tmp: Path, repeats: int, engines: SqliteEngines
) -> None:
    """Every contender once per round, ``repeats`` rounds, each time into a fresh file."""
    for rep in range(repeats):
        for i, c in enumerate(contenders):
            if c.bench is None:
                continue
            progress(f"  round {rep + 1}/{repeats}: {c.name} ({c.points:,} points)")
            db = tmp / f"contender{i}-round{rep}.db"
            sample = c.bench(db, pts.head(c.points))
            sample.durability = sample.durability or engines.settings_of(db)
            c.samples.append(sample)
    for c in contenders:
        stored = sorted({s.stored for s in c.samples})
        if stored and stored != [c.points]:
            c.note = f"WARNING: stored {stored} rows, logged {c.points:,}. {c.note}"
        best = c.best
        if best is not None and best.durations_ns:
            c.median_us, c.p99_us = percentiles_us(best.durations_ns)


# -- output -----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(contenders: list[Contender], n: int, raw: Contender, ours: Contender) -> None:
    header = (
        f"{'method':<42} {'points':>10} {'best s':>8} {'points/s':>11} {'us/point':>9} "
        f"{'est. s @' + format(n, ','):>16} {'x raw':>6} {'ours x':>7} {'median us':>10} "
        f"{'p99 us':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for c in contenders:
        pps = c.pps
        best = c.best
        scaled = pps is not None and c.points != n
        scaled_note = f"SCALED x{n / c.points:,.0f} from {c.points:,} points" if scaled else ""
        note = "; ".join(x for x in (scaled_note, c.note) if x)
        print(
            f"{c.name:<42} {_fmt(c.points or None, ',d'):>10} "
            f"{_fmt(best and best.seconds, '.3f'):>8} {_fmt(pps, ',.0f'):>11} "
            f"{_fmt(pps and 1e6 / pps, '.2f'):>9} {_fmt(pps and n / pps, ',.1f'):>16} "
            f"{_fmt(pps and raw.pps and pps / raw.pps, '.3f'):>6} "
            f"{_fmt(pps and ours.pps and ours.pps / pps, ',.1f'):>7} "
            f"{_fmt(c.median_us, '.2f'):>10} {_fmt(c.p99_us, '.2f'):>9}  {note}"
        )


def print_durability(contenders: list[Contender], raw: Contender, ours: Contender) -> None:
    print("durability, read back from the connection each contender wrote through:")
    for c in contenders:
        settings = sorted({s.durability for s in c.samples})
        print(f"  {c.name:<42} {' | '.join(settings) or '-'}")
    if {s.durability for s in raw.samples} != {s.durability for s in ours.samples}:
        print("  WARNING: the limit did not run with tunetrack's settings; its ratio is unfair")
    print(
        f"  (tunetrack's bulk metric path also checkpoints every {CHECKPOINT_POINTS:,} points, "
        "after its write; wal_autocheckpoint is the backstop, for it and the limit)"
    )
    print(
        "  (WAL + synchronous=NORMAL: a commit survives a process crash but may be lost on "
        "power failure; delete + FULL syncs the disk on every commit)"
    )


def print_verdicts(
    ours: Contender, ours_batch: Contender, raw: Contender, peers: list[Contender]
) -> None:
    ratio = ours.pps / raw.pps if ours.pps and raw.pps else 0.0
    print(
        f"target end-to-end >= {TARGET_RATIO}x raw sqlite3: {ratio:.3f}x -> "
        f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
    )
    median = ours.median_us if ours.median_us is not None else float("inf")
    print(
        f"target median log_metric call <= {TARGET_MEDIAN_US} us: {median:.2f} us -> "
        f"{'PASS' if median <= TARGET_MEDIAN_US else 'FAIL'}"
    )
    for c in peers:
        if c.pps and ours.pps:
            print(f"ours log_metric vs {c.name}: {ours.pps / c.pps:,.1f}x points/s")
    mlflow_batch = peers[-1]
    if mlflow_batch.pps and ours_batch.pps:
        print(
            f"ours Client.log_batch vs {mlflow_batch.name}: "
            f"{ours_batch.pps / mlflow_batch.pps:,.1f}x points/s"
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
        "--repeats", type=int, default=3, help="interleaved repeats of every contender (best kept)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.points, args.mlflow_points, args.mlflow_batch_points = 50_000, 200, 2_000
        args.repeats = 1
    n = args.points
    per_call_n = min(n, PER_CALL_SAMPLE)
    pts = make_points(n)
    engines = SqliteEngines()

    with tempfile.TemporaryDirectory(prefix="tunetrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        template = None
        if importlib.util.find_spec("mlflow") is not None:
            template = tmp / "mlflow-template.db"
            progress("migrating an empty mlflow database (copied for each mlflow run) ...")
            make_mlflow_template(template)
        ours = Contender("ours: tunetrack.log_metric loop", bench_ours_log_metric, n)
        ours_batch = Contender(f"ours: Client.log_batch ({BATCH}/call)", bench_ours_log_batch, n)
        raw = Contender("raw sqlite3 executemany (limit)", bench_raw_sqlite, n, "1 txn")
        peers = mlflow_contenders(
            template, min(n, args.mlflow_points), min(n, args.mlflow_batch_points)
        )
        contenders = [ours, ours_batch, raw, *peers]
        run_interleaved(contenders, pts, tmp, args.repeats, engines)
        progress(f"  our per-call latency over {per_call_n:,} calls ...")
        ours.median_us, ours.p99_us = ours_call_latency(tmp / "latency.db", pts.head(per_call_n))
        ours.note = f"latency: separate run of {per_call_n:,} calls"

    print(
        f"\nIngest: {n:,} metric points ({len(KEYS)} keys); every contender {args.repeats}x, "
        f"interleaved, each time into a fresh SQLite file; best time shown; "
        f"load avg {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        "end to end = first call until end_run()/flush()/COMMIT returned. SCALED rows logged "
        "the sample in 'points' only; their est. s is that rate scaled linearly to "
        f"{n:,} (a bigger table only slows inserts down, so scaling flatters them)"
    )
    print(
        "x raw = points/s / the limit's points/s; ours x = our log_metric loop's points/s / "
        "this row's points/s"
    )
    print()
    print_table(contenders, n, raw, ours)
    print()
    print_durability(contenders, raw, ours)
    print(
        f"per-call latency: each call timed alone with perf_counter_ns (ours in a separate "
        f"run); the timer pair costs ~{timer_overhead_ns():.0f} ns (included in the figures)"
    )
    print()
    print_verdicts(ours, ours_batch, raw, peers)


if __name__ == "__main__":
    main()
