"""Tracking-server benchmark: ``tunetrack server`` against ``mlflow server`` over HTTP.

Both servers run on this machine as real processes with the same worker count, over the same
store kind (a SQLite file; a PostgreSQL database on 127.0.0.1:5432), each over a fresh store
of its own (a new file, or a database created for it and dropped after). Two measurements:

* ingest, two ways, each with ``--clients`` client processes (spawned), each logging 500-point
  batches into a run of its own, all released by one barrier. Per-batch latency is timed in
  the client around one synchronous call that sends one HTTP request: ours
  ``RestStore.log_metric_rows(rows)`` (the batched writer's path, exactly-once batch ids),
  mlflow's ``MlflowClient.log_batch(run_id, metrics=[500 Metric])``. Afterwards the points
  stored per run are counted in the database: each must equal what its client sent.

  - closed loop (maximum throughput): each client sends ``--batches`` batches back to back,
    the next as soon as the last is answered. Points/s = all points over the wall time from
    the barrier to the last client done. Its latency is mostly queueing: with every client
    always waiting, average latency = clients / batches per second.
  - paced (open loop, the reading of "< 10 ms per batch at >= 100,000 points/s"): each
    client sends ``--rate`` batches/s (20 x 10 x 500 = 100,000 points/s offered) for
    ``--seconds``, on a fixed schedule with a random phase per client. Latency is from a
    batch's scheduled time to its answer, so a client that falls behind counts its wait
    (no coordinated omission); achieved points/s = all points over the time from the first
    scheduled batch to the last answer.
* search: ``--runs`` runs (benchmarks/search.py's runs: 10 params, 5 metrics, 3 tags) are
  loaded straight into the store (ours through ``SqlStore``; mlflow's through its own
  ``SqlAlchemyStore`` and ORM models in bulk, as its client would take half an hour), then a
  server is started over it and ``search_runs`` with search.py's filter and sort, 100
  results, is timed through HTTP (``RestStore`` / ``MlflowClient``), median of ``--repeats``
  after one warm-up; both must return the same runs in the same order.

Usage::

    python benchmarks/server.py [--clients 20] [--batches 40] [--rate 10] [--seconds 10]
                                [--runs 10000] [--workers 2] [--stores sqlite,postgresql]
                                [--servers tunetrack,mlflow] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing as mp
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _sqlite_durability import SqliteEngines
from ingest import OUR_POINTS
from search import FILTER, ORDER_BY, QueryTiming, RunSpec, make_runs, names_of_runs, time_query

BATCH = 500  # points per request
KEYS = ("loss", "accuracy", "learning_rate", "grad_norm")
PG_ADMIN_URI = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_BATCH_MS = 10.0  # ours, average per 500-point batch with 20 clients (issue 11)
TARGET_PPS = 100_000.0  # ours, points/s in total
TARGET_SEARCH_MS = 60.0  # ours, search of 10,000 runs, 100 results, through HTTP
PUBLISHED = (  # (who, ms per 500-point batch, ms per search), PostgreSQL, 20 users
    ("MLflow server (Python)", 1200.0, 1004.0),
    ("mlflow-go", 13.0, 104.0),
)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _quiet_mlflow() -> None:
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


# -- stores -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_store(kind: str, tmp: Path, name: str) -> Iterator[str]:
    """The URI of a new, empty store of ``kind``; a PostgreSQL database is dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / name}.db"
        return
    import sqlalchemy

    db = f"bench_{name}_{uuid.uuid4().hex[:8]}".replace("-", "_")
    admin = sqlalchemy.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{db}"'))
        yield PG_ADMIN_URI.rsplit("/", 1)[0] + f"/{db}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def postgres_settings() -> str:
    import sqlalchemy

    engine = sqlalchemy.create_engine(PG_ADMIN_URI)
    try:
        with engine.connect() as conn:
            show = {
                s: conn.exec_driver_sql(f"SHOW {s}").scalar()
                for s in ("fsync", "synchronous_commit")
            }
    finally:
        engine.dispose()
    return ", ".join(f"{k}={v}" for k, v in show.items()) + " (server-wide, both servers)"


def analyze(uri: str) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load, as autovacuum would within
    a minute or so (without it both servers' plans see tables of ~0 rows)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def stored_per_run(uri: str, points: str, run_column: str) -> dict[str, int]:
    """Metric rows per run, counted in the database after the server stopped (a SQLite file
    through sqlite3, so no SQLAlchemy engine of ours is taken for a contender's)."""
    sql = f"SELECT {run_column}, COUNT(*) FROM {points} GROUP BY {run_column}"
    path = sqlite_path(uri)
    if path is not None:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return dict(conn.execute(sql).fetchall())
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as conn:
            return dict(conn.exec_driver_sql(sql).all())
    finally:
        engine.dispose()


# -- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=5) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serving(command: list[str], port: int, log: Path) -> Iterator[str]:
    """Run a server command (its own process group) until the block ends; yield its URL."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tunetrack_command(uri: str, artifacts: Path, port: int, workers: int) -> list[str]:
    return [
        str(Path(sys.executable).with_name("tunetrack")), "server", "--backend-store-uri", uri,
        "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def mlflow_command(uri: str, artifacts: Path, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
        "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


# -- stores filled directly (before the server starts) --------------------------------------


def tunetrack_runs(uri: str, artifacts: Path, n: int) -> tuple[str, list[str]]:
    """An experiment with ``n`` empty runs, made through SqlStore (also creates the schema)."""
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, str(artifacts))
    exp_id = store.create_experiment("server-bench")
    now = int(time.time() * 1000)
    runs = [store.create_run(exp_id, start_time=now, run_name=f"client-{i}") for i in range(n)]
    store.close()
    return exp_id, [r.info.run_id for r in runs]


def mlflow_store(uri: str, artifacts: Path) -> Any:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _quiet_mlflow()
    return SqlAlchemyStore(uri, str(artifacts))


def mlflow_runs(uri: str, artifacts: Path, n: int) -> tuple[str, list[str]]:
    """The same through mlflow's SqlAlchemyStore (which migrates its schema first)."""
    store = mlflow_store(uri, artifacts)
    exp_id = store.create_experiment("server-bench")
    now = int(time.time() * 1000)
    runs = [store.create_run(exp_id, "", now, [], f"client-{i}") for i in range(n)]
    store.engine.dispose()
    return exp_id, [r.info.run_id for r in runs]


def load_tunetrack(uri: str, artifacts: Path, specs: list[RunSpec]) -> str:
    """``specs`` through SqlStore: one create_run per run (params, tags), metrics in bulk."""
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, str(artifacts))
    exp_id = store.create_experiment("search-bench")
    now = int(time.time() * 1000)
    rows = []
    for i, spec in enumerate(specs):
        run = store.create_run(
            exp_id, start_time=now, run_name=spec.name, tags=spec.tags, params=spec.params
        )
        rows += [(run.info.run_id, k, 0, now, val) for k, val in spec.metrics.items()]
        if (i + 1) % 2000 == 0 or i + 1 == len(specs):
            store.log_metric_rows(rows)
            rows = []
            progress(f"    tunetrack: {i + 1:,} runs loaded")
    store.close()
    return exp_id


def load_mlflow(uri: str, artifacts: Path, specs: list[RunSpec]) -> str:
    """``specs`` as mlflow's own ORM rows, 1,000 runs per transaction, with the columns and
    the ``mlflow.runName`` tag its create_run writes."""
    from mlflow.store.tracking.dbmodels import models as orm

    store = mlflow_store(uri, artifacts)
    exp_id = store.create_experiment("search-bench")
    location = store.get_experiment(exp_id).artifact_location
    now = int(time.time() * 1000)
    for start in range(0, len(specs), 1000):
        rows: list[Any] = []
        for spec in specs[start : start + 1000]:
            rid = uuid.uuid4().hex
            rows.append(
                orm.SqlRun(
                    run_uuid=rid,
                    name=spec.name,
                    source_type="UNKNOWN",
                    source_name="",
                    entry_point_name="",
                    user_id="",
                    status="RUNNING",
                    start_time=now,
                    source_version="",
                    lifecycle_stage="active",
                    artifact_uri=f"{location}/{rid}/artifacts",
                    experiment_id=int(exp_id),
                )
            )
            tags = {**spec.tags, "mlflow.runName": spec.name}
            rows += [orm.SqlTag(key=k, value=val, run_uuid=rid) for k, val in tags.items()]
            rows += [orm.SqlParam(key=k, value=val, run_uuid=rid) for k, val in spec.params.items()]
            for table in (orm.SqlMetric, orm.SqlLatestMetric):
                rows += [
                    table(key=k, value=val, timestamp=now, step=0, is_nan=False, run_uuid=rid)
                    for k, val in spec.metrics.items()
                ]
        with store.ManagedSessionMaker() as session:
            session.add_all(rows)
        progress(f"    mlflow: {min(start + 1000, len(specs)):,} runs loaded")
    store.engine.dispose()
    return exp_id


# -- clients (spawned processes) ----------------------------------------------------------


def batch_points(b: int) -> list[tuple[str, int, float]]:
    """Batch ``b`` of a client: (key, step, value), every (key, step) new in its run."""
    first = b * BATCH
    nk = len(KEYS)
    return [(KEYS[i % nk], i // nk, 1.0 / (1.0 + i)) for i in range(first, first + BATCH)]


def tunetrack_client(url: str, run_id: str, batches: int) -> Callable[[int], None]:
    from tunetrack.store.rest import RestStore

    store = RestStore(url)
    store.get_run(run_id)  # connect before the barrier
    now = int(time.time() * 1000)
    payload = [[(run_id, k, s, now, val) for k, s, val in batch_points(b)] for b in range(batches)]
    return lambda b: store.log_metric_rows(payload[b])


def mlflow_client(url: str, run_id: str, batches: int) -> Callable[[int], None]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    _quiet_mlflow()
    client = MlflowClient(tracking_uri=url)
    client.get_run(run_id)  # connect before the barrier
    now = int(time.time() * 1000)
    payload = [[Metric(k, val, now, s) for k, s, val in batch_points(b)] for b in range(batches)]
    return lambda b: client.log_batch(run_id, metrics=payload[b])


CLIENTS = {"tunetrack": tunetrack_client, "mlflow": mlflow_client}


@dataclass(frozen=True)
class Load:
    """What each client sends: ``batches`` batches, back to back (``rate`` None) or
    ``rate`` batches per second from a random phase in the first period."""

    batches: int
    rate: float | None = None


def client_main(
    server: str, url: str, run_id: str, load: Load, seed: int, barrier: Any, out: Any
) -> None:
    """One client process: build its batches, wait for all, send and time each batch."""
    try:
        send = CLIENTS[server](url, run_id, load.batches)
        period = 1.0 / load.rate if load.rate else 0.0
        phase = random.Random(seed).uniform(0.0, period)
        barrier.wait(timeout=600)
        start = time.monotonic() + phase
        latencies = []
        for b in range(load.batches):
            due = start + b * period
            if period:
                time.sleep(max(0.0, due - time.monotonic()))
            else:
                due = time.monotonic()
            send(b)
            latencies.append(time.monotonic() - due)
        # a paced client's window is its schedule, longer if it fell behind
        end = max(time.monotonic(), start + load.batches * period)
        out.put((run_id, start, end, latencies, None))
    except BaseException as exc:  # reported by the parent
        out.put((run_id, 0.0, 0.0, [], f"{exc.__class__.__name__}: {exc}"[:300]))


# -- the two measurements ------------------------------------------------------------------


@dataclass
class Side:
    """One server: how to start it, fill its store, count its points."""

    name: str
    command: Callable[[str, Path, int, int], list[str]]
    make_runs: Callable[[str, Path, int], tuple[str, list[str]]]
    load: Callable[[str, Path, list[RunSpec]], str]
    points: str  # the table of metric points, with its runs
    run_column: str


SIDES = (
    Side("tunetrack", tunetrack_command, tunetrack_runs, load_tunetrack, OUR_POINTS, "l.run_id"),
    Side("mlflow", mlflow_command, mlflow_runs, load_mlflow, "metrics", "run_uuid"),
)


@dataclass
class Ingest:
    """One ingest measurement: latencies of every batch, wall time, points sent and stored."""

    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float | None = None
    pps: float | None = None
    sent: int = 0
    stored_ok: str = "-"
    errors: str = ""

    @property
    def avg_ms(self) -> float | None:
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else None

    @property
    def p99_ms(self) -> float | None:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None


@dataclass
class Row:
    side: str
    store: str
    closed: Ingest = field(default_factory=Ingest)
    paced: Ingest = field(default_factory=Ingest)
    durability: str = "-"
    load_s: float | None = None
    search: QueryTiming | None = None
    names: list[str] = field(default_factory=list)
    note: str = ""


def run_clients(side: Side, url: str, run_ids: list[str], load: Load) -> Ingest:
    """Start one client process per run, release them together, collect their timings."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(len(run_ids)), ctx.Queue()
    procs = [
        ctx.Process(target=client_main, args=(side.name, url, rid, load, i, barrier, out))
        for i, rid in enumerate(run_ids)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    ingest = Ingest()
    errors = [err for *_, err in results if err]
    if errors:
        ingest.errors = f"{len(errors)} client(s) failed: {errors[0]}"
    done = [r for r in results if not r[4]]
    ingest.latencies_ms = [sec * 1e3 for r in done for sec in r[3]]
    ingest.sent = BATCH * load.batches * len(done)
    if done:
        ingest.wall_s = max(r[2] for r in done) - min(r[1] for r in done)
        if load.rate:  # the sum of each client's rate over its own window
            ingest.pps = sum(BATCH * load.batches / (r[2] - r[1]) for r in done)
        else:
            ingest.pps = ingest.sent / ingest.wall_s
    return ingest


def check_stored(ingest: Ingest, stored: dict[str, int], run_ids: list[str], per_run: int) -> None:
    """Each run must hold exactly the points its client sent."""
    wrong = {rid: stored.get(rid, 0) for rid in run_ids if stored.get(rid, 0) != per_run}
    total = sum(stored.get(rid, 0) for rid in run_ids)
    ingest.stored_ok = f"{total:,} ok" if not wrong else f"{len(wrong)} runs WRONG"


def measure_ingest(row: Row, side: Side, uri: str, tmp: Path, args: argparse.Namespace) -> None:
    """Closed loop, then paced, against one server over one fresh store (other runs)."""
    artifacts = tmp / f"{side.name}-{row.store}-ingest-artifacts"
    _, run_ids = side.make_runs(uri, artifacts, 2 * args.clients)
    closed_runs, paced_runs = run_ids[: args.clients], run_ids[args.clients :]
    closed = Load(args.batches)
    paced = Load(max(1, round(args.rate * args.seconds)), args.rate)
    port = free_port()
    log = tmp / f"{side.name}-{row.store}-ingest.log"
    with serving(side.command(uri, artifacts, port, args.workers), port, log) as url:
        progress(f"  closed loop: {args.clients} clients x {closed.batches} batches")
        row.closed = run_clients(side, url, closed_runs, closed)
        progress(f"  paced: {args.clients} clients x {args.rate:g} batches/s x {args.seconds:g} s")
        row.paced = run_clients(side, url, paced_runs, paced)
    stored = stored_per_run(uri, side.points, side.run_column)
    check_stored(row.closed, stored, closed_runs, BATCH * closed.batches)
    check_stored(row.paced, stored, paced_runs, BATCH * paced.batches)
    row.note = "; ".join(e for e in (row.closed.errors, row.paced.errors) if e)


def measure_search(
    row: Row, side: Side, uri: str, tmp: Path, specs: list[RunSpec], args: argparse.Namespace
) -> None:
    artifacts = tmp / f"{side.name}-{row.store}-search-artifacts"
    t0 = time.perf_counter()
    exp_id = side.load(uri, artifacts, specs)
    row.load_s = time.perf_counter() - t0
    if sqlite_path(uri) is None:
        analyze(uri)
    port = free_port()
    log = tmp / f"{side.name}-{row.store}-search.log"
    with serving(side.command(uri, artifacts, port, args.workers), port, log) as url:
        if side.name == "tunetrack":
            from tunetrack.store.rest import RestStore

            client: Any = RestStore(url)
        else:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=url)
        query = lambda: client.search_runs(  # noqa: E731
            [exp_id], filter_string=FILTER, order_by=ORDER_BY, max_results=100
        )
        row.search, out = time_query(query, args.repeats)
        row.names = names_of_runs(out)


def durability_of(side: Side, store: str, uri: str, engines: SqliteEngines, pg: str) -> str:
    path = sqlite_path(uri)
    return pg if path is None else engines.settings_of(path) + f" ({side.name}'s engine)"


# -- output -------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _short_durability(text: str) -> str:
    """The settings in a table cell: ``wal/NORMAL/10000 pages`` or
    ``fsync=on/sync_commit=on``."""
    if text.startswith("journal_mode="):
        return "/".join(part.split("=")[1] for part in text.split(" (")[0].split(", "))
    return text.split(" (")[0].replace("synchronous_commit", "sync_commit").replace(", ", "/")


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'':<22} {'closed loop (max throughput)':^37} | {'paced, 100k points/s offered':^37} |"
        f" {'search':^20} |\n"
        f"{'store':<11} {'server':<10} {'avg ms':>8} {'p99 ms':>8} {'points/s':>9} "
        f"{'stored':>10} | {'avg ms':>8} {'p99 ms':>8} {'points/s':>9} {'stored':>10} | "
        f"{'median ms':>9} {'best ms':>7} {'n':>3} | {'durability':<26} note"
    )
    print(head)
    print("-" * len(head.splitlines()[1]))
    for r in rows:
        t = r.search
        cells = []
        for ingest in (r.closed, r.paced):
            cells.append(
                f"{_fmt(ingest.avg_ms, '.1f'):>8} {_fmt(ingest.p99_ms, '.1f'):>8} "
                f"{_fmt(ingest.pps, ',.0f'):>9} {ingest.stored_ok.replace(',', ''):>10}"
            )
        print(
            f"{r.store:<11} {r.side:<10} {cells[0]} | {cells[1]} | "
            f"{_fmt(t and t.median_ms, '.1f'):>9} {_fmt(t and t.best_ms, '.1f'):>7} "
            f"{_fmt(t and t.rows, 'd'):>3} | {_short_durability(r.durability):<26} {r.note}"
        )


def print_ratios(rows: list[Row]) -> None:
    for store in dict.fromkeys(r.store for r in rows):
        ours = next((r for r in rows if r.store == store and r.side == "tunetrack"), None)
        peer = next((r for r in rows if r.store == store and r.side == "mlflow"), None)
        if not ours or not peer:
            continue
        parts = []
        for mode, a, b in (("closed", ours.closed, peer.closed), ("paced", ours.paced, peer.paced)):
            if a.avg_ms and b.avg_ms:
                parts.append(f"{mode} batch latency {b.avg_ms / a.avg_ms:,.1f}x lower")
            if a.pps and b.pps:
                parts.append(f"{mode} points/s {a.pps / b.pps:,.1f}x")
        if ours.search and peer.search:
            parts.append(f"search {peer.search.median_ms / ours.search.median_ms:,.1f}x faster")
        same = "yes" if ours.names and ours.names == peer.names else "NO"
        parts.append(f"same 100 runs in the same order: {same}")
        print(f"{store}: tunetrack vs mlflow: " + "; ".join(parts))


def print_targets(rows: list[Row], offered: float, searched: bool) -> None:
    for r in rows:
        if r.side != "tunetrack":
            continue
        search = r.search.median_ms if r.search else None
        checks = (  # (what, value, unit, target, at least?)
            (f"paced: average per batch < {TARGET_BATCH_MS:.0f} ms", r.paced.avg_ms, "ms",
             TARGET_BATCH_MS, False),
            (f"paced: points/s >= {TARGET_PPS:,.0f} (offered {offered:,.0f})", r.paced.pps,
             "points/s", TARGET_PPS, True),
            (f"closed loop: points/s >= {TARGET_PPS:,.0f}", r.closed.pps, "points/s",
             TARGET_PPS, True),
            (f"search < {TARGET_SEARCH_MS:.0f} ms", search, "ms median", TARGET_SEARCH_MS, False),
        )[: None if searched else -1]  # fmt: skip
        for label, value, unit, target, at_least in checks:
            # a client on schedule achieves exactly its offered rate: allow float rounding
            ok = value is not None and (
                value >= target * (1 - 1e-9) if at_least else value < target
            )
            print(
                f"target tunetrack on {r.store}: {label}: {_fmt(value, ',.1f')} {unit} -> "
                f"{'PASS' if ok else 'FAIL'}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent client processes")
    parser.add_argument(
        "--batches", type=int, default=40, help="closed loop: 500-point batches per client"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="paced: batches/s per client")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced: how long to send")
    parser.add_argument(
        "--runs", type=int, default=10_000, help="runs in the searched store (0: no search)"
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed searches (median shown)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--stores", default="sqlite,postgresql", help="store kinds to run")
    parser.add_argument("--servers", default="tunetrack,mlflow", help="servers to run")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.seconds, args.runs, args.repeats = 5, 2.0, 1000, 5
    offered = args.clients * args.rate * BATCH
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    specs = make_runs(args.runs)
    engines = SqliteEngines()
    pg = postgres_settings() if "postgresql" in stores else ""
    rows = []
    with tempfile.TemporaryDirectory(prefix="tunetrack-server-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for store in stores:
            for side in (s for s in SIDES if s.name in args.servers.split(",")):
                row = Row(side.name, store)
                rows.append(row)
                try:
                    progress(f"{side.name} on {store}: ingest")
                    with fresh_store(store, tmp, f"{side.name}-ingest") as uri:
                        measure_ingest(row, side, uri, tmp, args)
                        row.durability = durability_of(side, store, uri, engines, pg)
                    if not args.runs:
                        continue
                    progress(f"{side.name} on {store}: loading {args.runs:,} runs, searching ...")
                    with fresh_store(store, tmp, f"{side.name}-search") as uri:
                        measure_search(row, side, uri, tmp, specs, args)
                except Exception as exc:
                    row.note = " ".join(f"ERROR: {exc.__class__.__name__}: {exc}".split())[:300]
                    progress(row.note)

    print(
        f"\nTracking servers over HTTP on one machine ({os.cpu_count()} cores, load avg "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}); each server with --workers "
        f"{args.workers}, a fresh store per server and measurement"
    )
    print(
        f"ingest: {args.clients} client processes, {BATCH}-point batches, one run each; batch "
        "ms = one synchronous call, timed in the client (ours RestStore.log_metric_rows, "
        "mlflow MlflowClient.log_batch); stored = rows counted in the database afterwards, "
        "each run checked against what its client sent"
    )
    print(
        f"  closed loop: {args.batches} batches per client back to back; points/s = all "
        "points / wall time from the start barrier to the last client done; its latency is "
        "mostly queueing (clients / batches per second)"
    )
    print(
        f"  paced: {args.rate:g} batches/s per client for {args.seconds:g} s ({offered:,.0f} "
        "points/s offered), random phase per client; latency from each batch's scheduled time "
        "to its answer; points/s = sum over clients of points / (schedule, or longer if late)"
    )
    if args.runs:
        print(
            f'search: {args.runs:,} runs (10 params, 5 metrics, 3 tags), filter "{FILTER}", '
            f"order_by {ORDER_BY}, max_results=100, through HTTP (RestStore.search_runs, "
            f"MlflowClient.search_runs); median and best of {args.repeats} after one warm-up; "
            "load s = filling the store directly, before the server starts (not a contender); "
            "PostgreSQL: ANALYZE after the load"
        )
    else:
        print("search: not run (--runs 0)")
    print()
    print_table(rows)
    print()
    print("durability, read through each library's own engine (SQLite) or the server (PostgreSQL):")
    for r in rows:
        print(f"  {r.store:<11} {r.side:<10} {r.durability}")
    print()
    print_ratios(rows)
    print_targets(rows, offered, searched=bool(args.runs))
    print()
    print("PUBLISHED figures, NOT measured here (PostgreSQL, 20 users; other hardware):")
    for who, batch_ms, search_ms in PUBLISHED:
        print(
            f"  {who:<24} {batch_ms:>6,.0f} ms per 500-point batch {search_ms:>6,.0f} ms per search"
        )


if __name__ == "__main__":
    main()
