"""Scale benchmark (issue 13): a store of 1,000,000 runs and 20,000,000 metric points.

Two stores, SQLite and PostgreSQL, each a fresh file or database, are bulk-built with the
same data: the schema is created by tunetrack's ``SqlStore`` (its migrations run), then the
runs, params, tags, metric points and ``latest_metrics`` rows are written with plain SQL,
20,000 runs at a time (bounded memory):

* runs are benchmarks/search.py's runs (10 params, 5 metrics m0..m4, 3 tags) in one
  experiment; each metric has ``points / runs / 5`` steps (4 by default), its last value is
  the run's search.py value, and ``latest_metrics`` holds that last point (it agrees with
  ``metrics``: checked on a sample of runs through ``SqlStore`` after the build);
* run ids are random 128-bit hex ids like ``uuid4().hex``, created in sorted order so the
  bulk insert appends to the (run_id, ...) indexes;
* SQLite: ``executemany`` in one transaction per chunk with ``journal_mode=OFF`` and
  ``synchronous=OFF`` during the build only (a crash would corrupt the file; it is then
  switched to WAL, tunetrack's mode), foreign keys enforced;
* PostgreSQL: ``COPY`` through psycopg's ``cursor.copy``, one transaction per chunk, with
  ``session_replication_role=replica`` (foreign-key triggers off) during the build, then
  every child table is checked for orphans (must be 0) and ``VACUUM ANALYZE`` run (the state
  autovacuum would reach).

A second experiment holds one run with a 200,000-point metric (benchmarks/ui.py's, logged
through ``SqlStore.log_metric_rows``). Measured on each store, in this one run:

* search: ``Client.search_runs`` with search.py's filter and sort, 100 results; the limit
  beside it is search.py's hand-written SQL (``raw_search``: the sort-first plan, then the
  page's runs, params, tags and latest metrics) on a plain sqlite3 / psycopg connection, and
  both must return the same runs in the same order;
* metric history: ``Client.get_metric_history`` of one typical run's metric (4 points) and of
  the long run's metric (200,000 points);
* runs page: ``tunetrack server`` (it serves the UI) on 127.0.0.1 over the store, HTTP GET
  of the experiment's runs page to the last byte: the default page and the page filtered and
  sorted as above (ui.py's query: 100 rows, 5 columns).

Each is called once to warm up, then ``--repeats`` times; the median is shown.

Ingest, PostgreSQL only: ``--writers`` processes (spawned, released by one barrier) each log
``--writer-points`` points with ``tunetrack.log_metric`` (the batched writer) into a run of
its own in a fresh database; points/s = all points over the wall time from the barrier to
the last ``end_run()`` returned; every run's stored count must equal what was logged. The
limit: the same rows from the same number of processes with raw psycopg ``COPY`` into the
``metrics`` table of another fresh database (it writes no ``latest_metrics``).

Usage::

    python benchmarks/scale.py [--runs 1000000] [--points 20000000] [--writers 8]
                               [--writer-points 250000] [--repeats 5]
                               [--stores sqlite,postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing as mp
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from _sqlite_durability import SqliteEngines, read_settings
from ingest import OUR_POINTS, make_points
from search import FILTER, ORDER_BY, make_runs, raw_search, time_query
from server import (
    PUBLISHED,
    analyze,
    free_port,
    fresh_store,
    postgres_settings,
    progress,
    serving,
    sqlite_path,
    stored_per_run,
    tunetrack_command,
)
from ui import COLUMNS, long_metric_tunetrack, time_fetch

from tunetrack.entities import LifecycleStage, RunInfo, RunStatus
from tunetrack.store.sql.run_rows import RUN_COLUMNS, run_values

CHUNK = 20_000  # runs generated and written per transaction
METRIC_KEYS = ("m0", "m1", "m2", "m3", "m4")  # search.py's metrics
TARGET_MS = 200.0  # search and runs page at 1M runs (issue 13)
TARGET_INGEST_RATIO = 0.3  # 8 writers >= 0.3x raw COPY (issue 13)
RAW_ROW = "  limit: hand-written SQL, same page"
CHECKED_RUNS = 200  # runs whose latest_metrics are compared with their history

COLUMNS_OF = {  # parents first: a series (latest_metrics) before its points
    "runs": RUN_COLUMNS,
    "params": ("run_id", "key", "value"),
    "tags": ("run_id", "key", "value"),
    "latest_metrics": ("series_id", "run_id", "key", "experiment_id", "step", "timestamp",
                       "value"),
    "metrics": ("series_id", "step", "timestamp", "value"),
}  # fmt: skip
RUN_CHILD_TABLES = ("params", "tags", "latest_metrics")


# -- data ---------------------------------------------------------------------------------


def sorted_run_ids(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct random 32-hex-digit ids (like ``uuid4().hex``), in sorted order."""
    rng = random.Random(seed)
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(f"{rng.getrandbits(128):032x}")
    return sorted(ids)


@dataclass(frozen=True)
class Layout:
    """Where the runs go and how many points each metric gets."""

    experiment_id: int
    artifact_location: str
    steps: int  # points per metric per run
    now: int  # ms; run i starts at now - n + i


def chunk_rows(
    first: int, ids: Sequence[str], n: int, layout: Layout
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of runs ``first .. first + len(ids) - 1`` for every table, parents first."""
    specs = make_runs(len(ids), seed=1 + first // CHUNK)
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS_OF}
    exp, last = layout.experiment_id, layout.steps - 1
    location = layout.artifact_location.rstrip("/")
    for i, (run_id, spec) in enumerate(zip(ids, specs, strict=True)):
        start = layout.now - n + first + i
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(exp),
            run_name=f"run-{first + i:07d}",
            status=RunStatus.FINISHED,
            start_time=start,
            end_time=start + 1000,
            lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=f"{location}/{run_id}",
            parent_run_id=None,
            user_id="",
        )
        values = run_values(info)  # the store's own mapping: new columns come along
        rows["runs"].append(tuple(values[c] for c in RUN_COLUMNS))
        rows["params"] += [(run_id, k, v) for k, v in spec.params.items()]
        rows["tags"] += [(run_id, k, v) for k, v in spec.tags.items()]
        for j, key in enumerate(METRIC_KEYS):
            final = spec.metrics[key]
            series = (first + i) * len(METRIC_KEYS) + j + 1
            rows["metrics"] += [
                (series, step, start + step, final + (last - step) * 0.01)
                for step in range(layout.steps)
            ]
            rows["latest_metrics"].append((series, run_id, key, exp, last, start + last, final))
    return rows


# -- bulk writers ---------------------------------------------------------------------------


class Bulk(Protocol):
    seconds: float

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None: ...

    def finish(self) -> None: ...


class SqliteBulk:
    """executemany per table, one transaction per chunk, no journal during the build."""

    def __init__(self, path: Path) -> None:
        self.seconds = 0.0
        self.con = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=ON",
                       "cache_size=-524288"):  # fmt: skip
            self.con.execute(f"PRAGMA {pragma}")
        self.settings = read_settings(self.con)

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        t0 = time.perf_counter()
        self.con.execute("BEGIN")
        for table, table_rows in rows.items():
            columns = COLUMNS_OF[table]
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            self.con.executemany(sql, table_rows)
        self.con.execute("COMMIT")
        self.seconds += time.perf_counter() - t0

    def finish(self) -> None:
        t0 = time.perf_counter()
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.close()
        self.seconds += time.perf_counter() - t0


def psycopg_conninfo(uri: str) -> str:
    """A libpq URI from a SQLAlchemy ``postgresql+psycopg://`` one."""
    return uri.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresBulk:
    """COPY per table, one transaction per chunk, foreign-key triggers off (checked after)."""

    def __init__(self, uri: str) -> None:
        import psycopg

        self.seconds = 0.0
        self.uri = uri
        self.conn = psycopg.connect(psycopg_conninfo(uri))
        self.conn.execute("SET session_replication_role = replica")
        self.settings = "COPY, session_replication_role=replica during the build"

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        t0 = time.perf_counter()
        with self.conn.cursor() as cur:
            for table, table_rows in rows.items():
                columns = ", ".join(COLUMNS_OF[table])
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in table_rows:
                        copy.write_row(row)
        self.conn.commit()
        self.seconds += time.perf_counter() - t0

    def finish(self) -> None:
        """Check every child row has its run (every point its series), then VACUUM
        ANALYZE; move the series ids' sequence past the ids given."""
        t0 = time.perf_counter()
        self.conn.execute("SET session_replication_role = origin")
        checks = [(t, "runs r WHERE r.run_id = c.run_id") for t in RUN_CHILD_TABLES]
        checks.append(("metrics", "latest_metrics l WHERE l.series_id = c.series_id"))
        for table, parent in checks:
            orphans = self.conn.execute(
                f"SELECT count(*) FROM {table} c WHERE NOT EXISTS (SELECT 1 FROM {parent})"
            ).fetchone()
            if orphans is None or orphans[0]:
                raise RuntimeError(f"{table}: rows without a parent after the build: {orphans}")
        self.conn.execute(
            "SELECT setval(pg_get_serial_sequence('latest_metrics', 'series_id'), "
            "(SELECT COALESCE(MAX(series_id), 0) + 1 FROM latest_metrics), false)"
        )
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.close()
        self.seconds += time.perf_counter() - t0


# -- building -------------------------------------------------------------------------------


@dataclass
class Built:
    uri: str
    experiment_id: str
    typical_run: str  # a run of the big experiment
    long_run: str  # the run with the 200,000-point metric
    write_s: float  # plain-SQL write time of this store (generation excluded)
    long_s: float  # the long run's points through SqlStore
    build_settings: str


def create_schema(uri: str, artifacts: Path) -> tuple[str, str]:
    """The schema through SqlStore (migrations run) and the experiment; (id, location)."""
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, str(artifacts))
    exp_id = store.create_experiment("scale-bench")
    location = store.get_experiment(exp_id).artifact_location
    store.close()
    return exp_id, location


def open_bulk(uri: str) -> SqliteBulk | PostgresBulk:
    path = sqlite_path(uri)
    return SqliteBulk(path) if path is not None else PostgresBulk(uri)


def build(
    uris: dict[str, str], artifacts: Path, n: int, steps: int
) -> tuple[dict[str, Built], float]:
    """Fill every store with the same rows, generated once per chunk; (stores, gen s)."""
    setup = {kind: create_schema(uri, artifacts) for kind, uri in uris.items()}
    ids = sorted_run_ids(n)
    now = int(time.time() * 1000)
    bulks = {kind: open_bulk(uri) for kind, uri in uris.items()}
    gen_s = 0.0
    for first in range(0, n, CHUNK):
        t0 = time.perf_counter()
        chunk_ids = ids[first : first + CHUNK]
        rows = {
            kind: chunk_rows(first, chunk_ids, n, Layout(int(exp), loc, steps, now))
            for kind, (exp, loc) in setup.items()
        }  # the experiment id may differ between stores; rows are cheap to remake
        gen_s += time.perf_counter() - t0
        for kind, bulk in bulks.items():
            bulk.write(rows[kind])
        done = first + len(chunk_ids)
        if done % (10 * CHUNK) == 0 or done == n:
            spent = ", ".join(f"{k} {b.seconds:.0f} s" for k, b in bulks.items())
            progress(f"  {done:,} runs written (generate {gen_s:.0f} s, {spent})")
    built = {}
    for kind, bulk in bulks.items():
        progress(f"  {kind}: finishing the build")
        bulk.finish()
        uri = uris[kind]
        t0 = time.perf_counter()
        long_run = long_metric_tunetrack(uri, artifacts)
        long_s = time.perf_counter() - t0
        exp_id = setup[kind][0]
        built[kind] = Built(uri, exp_id, ids[n // 2], long_run, bulk.seconds, long_s,
                            bulk.settings)  # fmt: skip
    return built, gen_s / len(uris)


def check_latest(uri: str, ids: Sequence[str]) -> None:
    """Each run's latest metric values equal the last point of its metric histories."""
    import tunetrack

    client = tunetrack.Client(uri)
    for run_id in ids:
        latest = client.get_run(run_id).data.metrics
        for key, value in latest.items():
            last = client.get_metric_history(run_id, key)[-1].value
            if last != value:
                raise RuntimeError(f"run {run_id} {key}: latest {value} but history ends {last}")


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Figures:
    """Median ms of each measurement on one store."""

    rows: dict[str, float]
    search_sql: tuple[str, Any]  # the page query, for EXPLAIN
    same_page: bool  # search_runs returned the limit's runs in the limit's order
    durability: str = ""


@contextlib.contextmanager
def capture_sql(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Statements the engine sends inside the block (statement, parameters)."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def hook(_conn: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


class PsycopgAsSqlite3:
    """Runs search.py's sqlite3-style SQL (``:name`` and ``?`` marks) on psycopg."""

    def __init__(self, uri: str) -> None:
        import psycopg

        self.conn = psycopg.connect(psycopg_conninfo(uri), autocommit=True)

    def execute(self, sql: str, params: Any) -> Any:
        if isinstance(params, dict):
            return self.conn.execute(re.sub(r":(\w+)", r"%(\1)s", sql), params)
        return self.conn.execute(sql.replace("?", "%s"), params)

    def close(self) -> None:
        self.conn.close()


def raw_connection(uri: str) -> Any:
    """A plain driver connection for the hand-written limit (sqlite3 or psycopg)."""
    path = sqlite_path(uri)
    return sqlite3.connect(path) if path is not None else PsycopgAsSqlite3(uri)


def median_ms(fn: Callable[[], Sequence[Any]], repeats: int, expect: int | None) -> float:
    timing, out = time_query(fn, repeats)
    if expect is not None and len(out) != expect:
        raise RuntimeError(f"expected {expect} results, got {len(out)}")
    progress(f"    {timing.median_ms:.1f} ms")
    return timing.median_ms


def measure(built: Built, tmp: Path, steps: int, repeats: int, engines: SqliteEngines) -> Figures:
    import tunetrack

    client = tunetrack.Client(built.uri)
    exp = built.experiment_id
    rows: dict[str, float] = {}

    def search() -> Sequence[Any]:
        return client.search_runs([exp], filter_string=FILTER, order_by=ORDER_BY, max_results=100)

    progress("    search_runs")
    rows["search_runs, filter + sort, 100 results"] = median_ms(search, repeats, 100)
    progress("    hand-written SQL (search.py's sort-first plan)")
    con = raw_connection(built.uri)
    try:
        rows[RAW_ROW] = median_ms(lambda: raw_search(con, int(exp), 100), repeats, 100)
        same = [d["run_name"] for d in raw_search(con, int(exp), 100)] == [
            r.info.run_name for r in search()
        ]
    finally:
        con.close()
    with capture_sql(client.store.engine) as seen:
        search()
    sql = next(s for s in seen if "LIMIT" in s[0].upper())  # the page query
    progress("    metric history")
    rows[f"get_metric_history, typical run ({steps} points)"] = median_ms(
        lambda: client.get_metric_history(built.typical_run, "m0"), repeats, steps
    )
    rows["get_metric_history, long run (200,000 points)"] = median_ms(
        lambda: client.get_metric_history(built.long_run, "loss"), repeats, 200_000
    )
    path = sqlite_path(built.uri)
    durability = engines.settings_of(path) if path is not None else postgres_settings()
    port = free_port()
    command = tunetrack_command(built.uri, tmp / "artifacts", port, 1)
    query = {"filter": FILTER, "order": ORDER_BY[0], "cols": COLUMNS, "n": 100, "nested": 0}
    with (
        serving(command, port, tmp / "server.log") as url,
        httpx.Client(base_url=url, timeout=600) as http,
    ):
        progress("    runs page")
        page = f"/experiments/{exp}"
        rows["runs page (UI, default view)"] = time_fetch(
            functools.partial(http.get, page), repeats
        )
        rows["runs page (UI, filter + sort, 100 rows)"] = time_fetch(
            functools.partial(http.get, page, params=query), repeats
        )
    return Figures(rows, sql, same, durability)


def explain(uri: str, sql: tuple[str, Any]) -> str:
    """The plan of the captured search query (PostgreSQL: EXPLAIN ANALYZE)."""
    import sqlalchemy

    statement, parameters = sql
    sqlite = sqlite_path(uri) is not None
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(prefix + statement, parameters).all()
    finally:
        engine.dispose()
    return "\n".join("  " + (str(r[-1]) if sqlite else str(r[0])) for r in plan)


# -- ingest into PostgreSQL ------------------------------------------------------------------


def writer_main(uri: str, points: int, barrier: Any, out: Any) -> None:
    """One process: tunetrack.log_metric ``points`` times into a run of its own."""
    try:
        import tunetrack

        pts = make_points(points)
        tunetrack.set_tracking_uri(uri)
        tunetrack.set_experiment("ingest")
        run_id = tunetrack.start_run().info.run_id
        barrier.wait(timeout=600)
        start = time.monotonic()
        for k, v, s in zip(pts.keys, pts.values, pts.steps, strict=True):
            tunetrack.log_metric(k, v, step=s)
        tunetrack.end_run()
        out.put((run_id, start, time.monotonic(), None))
    except BaseException as exc:  # reported by the parent
        out.put(("", 0.0, 0.0, f"{exc.__class__.__name__}: {exc}"[:300]))


def copy_main(uri: str, run_id: str, points: int, barrier: Any, out: Any) -> None:
    """One process: the same points with raw psycopg COPY into ``metrics``, one commit."""
    try:
        import psycopg

        pts = make_points(points)
        now = int(time.time() * 1000)
        with psycopg.connect(psycopg_conninfo(uri)) as conn:
            barrier.wait(timeout=600)
            start = time.monotonic()
            with conn.cursor() as cur:
                series = {  # a series per key, as the points' latest values
                    key: cur.execute(
                        "INSERT INTO latest_metrics (run_id, key, experiment_id, step, timestamp,"
                        " value) SELECT %s, %s, experiment_id, 0, %s, 0.0 FROM runs "
                        "WHERE run_id = %s RETURNING series_id",
                        (run_id, key, now, run_id),
                    ).fetchone()[0]
                    for key in dict.fromkeys(pts.keys)
                }
                copy_points = "COPY metrics (series_id, step, timestamp, value) FROM STDIN"
                with cur.copy(copy_points) as copy:
                    for k, v, s in zip(pts.keys, pts.values, pts.steps, strict=True):
                        copy.write_row((series[k], s, now, v))
            conn.commit()
        out.put((run_id, start, time.monotonic(), None))
    except BaseException as exc:
        out.put((run_id, 0.0, 0.0, f"{exc.__class__.__name__}: {exc}"[:300]))


@dataclass
class IngestResult:
    name: str
    points: int
    seconds: float | None = None
    stored: str = "-"
    note: str = ""

    @property
    def pps(self) -> float | None:
        return self.points / self.seconds if self.seconds else None


def run_processes(target: Callable[..., None], args_of: list[tuple[Any, ...]]) -> list[tuple]:
    """One spawned process per argument tuple, released together; their results."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(len(args_of)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, out)) for a in args_of]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return results


def summarize(result: IngestResult, results: list[tuple], uri: str, per_run: int) -> None:
    errors = [r[3] for r in results if r[3]]
    if errors:
        result.note = f"{len(errors)} process(es) failed: {errors[0]}"
        return
    result.seconds = max(r[2] for r in results) - min(r[1] for r in results)
    stored = stored_per_run(uri, OUR_POINTS, "l.run_id")
    wrong = [rid for rid, *_ in results if stored.get(rid, 0) != per_run]
    total = sum(stored.get(rid, 0) for rid, *_ in results)
    lost = result.points - total
    result.stored = f"{total:,}, {lost:,} lost" if not wrong else f"{len(wrong)} runs WRONG"


def ingest_postgres(tmp: Path, writers: int, per_writer: int) -> list[IngestResult]:
    total = writers * per_writer
    ours = IngestResult(f"ours: {writers} x tunetrack.log_metric", total)
    raw = IngestResult(f"raw psycopg COPY, {writers} processes (limit)", total, note="no latest")
    with fresh_store("postgresql", tmp, "scale_ingest") as uri:
        create_schema(uri, tmp / "ingest-artifacts")
        progress(f"ingest: {writers} writers x {per_writer:,} points (tunetrack.log_metric)")
        results = run_processes(writer_main, [(uri, per_writer)] * writers)
        summarize(ours, results, uri, per_writer)
    with fresh_store("postgresql", tmp, "scale_copy") as uri:
        from tunetrack.store.sql.store import SqlStore

        store = SqlStore(uri, str(tmp / "ingest-artifacts"))
        exp = store.create_experiment("ingest")
        now = int(time.time() * 1000)
        ids = [store.create_run(exp, start_time=now).info.run_id for _ in range(writers)]
        store.close()
        progress(f"ingest: {writers} processes x {per_writer:,} points (raw COPY)")
        results = run_processes(copy_main, [(uri, rid, per_writer) for rid in ids])
        summarize(raw, results, uri, per_writer)
    return [ours, raw]


# -- output ---------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def verdict(what: str, ms: float | None) -> str:
    if ms is None or not what.startswith(("search", "runs page")):
        return ""
    return f"< {TARGET_MS:.0f} ms: {'PASS' if ms < TARGET_MS else 'FAIL'}"


def print_figures(figures: dict[str, Figures]) -> None:
    kinds = list(figures)
    names = list(next(iter(figures.values())).rows)
    head = f"{'median ms':<46}" + "".join(f" {k:>12}" for k in kinds)
    if len(kinds) == 2:
        head += f" {kinds[1] + '/' + kinds[0]:>20}"
    print(head + "  target")
    print("-" * (len(head) + 20))
    for name in names:
        values = [figures[k].rows.get(name) for k in kinds]
        line = f"{name:<46}" + "".join(f" {_fmt(v, ',.1f'):>12}" for v in values)
        if len(kinds) == 2:
            a, b = values
            line += f" {_fmt(a and b and b / a, '.2f'):>20}"
        notes = [f"{k} {verdict(name, v)}" for k, v in zip(kinds, values, strict=True)]
        print(line + "  " + "; ".join(n for n in notes if verdict(name, 1.0)))


def print_ingest(results: list[IngestResult]) -> None:
    ours, raw = results
    head = f"{'ingest into PostgreSQL':<44} {'points':>10} {'wall s':>8} {'points/s':>11}"
    head += f" {'x raw':>6}"
    print(head + "  stored                note")
    print("-" * (len(head) + 30))
    for r in results:
        ratio = r.pps / raw.pps if r.pps and raw.pps else None
        print(
            f"{r.name:<44} {r.points:>10,} {_fmt(r.seconds, '.2f'):>8} "
            f"{_fmt(r.pps, ',.0f'):>11} {_fmt(ratio, '.3f'):>6}  {r.stored:<21} {r.note}"
        )
    ratio = ours.pps / raw.pps if ours.pps and raw.pps else 0.0
    fast = "PASS" if ratio >= TARGET_INGEST_RATIO else "FAIL"
    zero_lost = "PASS" if ours.stored.endswith(", 0 lost") else "FAIL"
    print(
        f"target ours >= {TARGET_INGEST_RATIO}x raw COPY: {ratio:.3f}x -> {fast}; "
        f"zero lost: {zero_lost}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=20_000_000, help="metric points in all")
    parser.add_argument("--writers", type=int, default=8, help="ingest processes")
    parser.add_argument("--writer-points", type=int, default=250_000, help="points per writer")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.points, args.writer_points, args.repeats = 20_000, 400_000, 20_000, 3
    steps = max(1, args.points // (args.runs * len(METRIC_KEYS)))
    points = args.runs * len(METRIC_KEYS) * steps
    kinds = args.stores.split(",")
    engines = SqliteEngines()
    tmp = Path(tempfile.mkdtemp(prefix="tunetrack-scale-"))
    try:
        with contextlib.ExitStack() as stack:
            uris = {kind: stack.enter_context(fresh_store(kind, tmp, "scale")) for kind in kinds}
            progress(f"building {args.runs:,} runs, {points:,} points into {', '.join(kinds)}")
            t0 = time.perf_counter()
            built, gen_s = build(uris, tmp / "artifacts", args.runs, steps)
            build_wall = time.perf_counter() - t0
            sample = sorted_run_ids(args.runs)[:: max(1, args.runs // CHECKED_RUNS)]
            figures, plans = {}, {}
            for kind, b in built.items():
                progress(f"{kind}: checking latest_metrics of {len(sample)} runs")
                check_latest(b.uri, sample)
                if sqlite_path(b.uri) is None:
                    analyze(b.uri)  # after the long run's points (VACUUM ANALYZE did the rest)
                progress(f"{kind}: measuring")
                figures[kind] = measure(b, tmp, steps, args.repeats, engines)
                plans[kind] = explain(b.uri, figures[kind].search_sql)
            sizes = {k: p.stat().st_size for k, b in built.items() if (p := sqlite_path(b.uri))}
        with_pg = "postgresql" in kinds
        ingest = ingest_postgres(tmp, args.writers, args.writer_points) if with_pg else []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nScale: {args.runs:,} runs (search.py's: 10 params, 5 metrics, 3 tags) and "
        f"{points:,} metric points ({steps} per metric per run) in one experiment, plus one "
        "run with a 200,000-point metric; every store fresh, bulk-built"
    )
    print(
        f'search: Client.search_runs, filter "{FILTER}", order_by {ORDER_BY}, 100 results; '
        f"runs page: tunetrack server, 1 worker, HTTP GET to the last byte; median of "
        f"{args.repeats} after one warm-up"
    )
    print()
    print(f"build: generating the rows {gen_s:.0f} s per store; wall {build_wall:.0f} s in all")
    for kind, b in built.items():
        size = f", file {sizes[kind] / 1e9:.2f} GB" if kind in sizes else ""
        print(
            f"  {kind}: plain-SQL writes + checks {b.write_s:.0f} s ({b.build_settings}){size}; "
            f"long run's 200,000 points through SqlStore {b.long_s:.1f} s"
        )
    print()
    print_figures(figures)
    who, _, search_ms = PUBLISHED[1]
    print(f"published anchor: {who} SearchRuns {search_ms:.0f} ms with 20 users (PostgreSQL)")
    for kind, f in figures.items():
        ours, raw = f.rows["search_runs, filter + sort, 100 results"], f.rows[RAW_ROW]
        same = "same runs, same order" if f.same_page else "DIFFERENT runs or order"
        print(f"{kind}: search_runs / limit = {ours / raw:,.1f}x; {same}")
    print()
    print("durability while measuring:")
    for kind, f in figures.items():
        print(f"  {kind}: {f.durability}")
    for kind, plan in plans.items():
        print(f"{kind} plan of the search page query:\n{plan}")
    if ingest:
        print()
        print(f"load avg at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print_ingest(ingest)


if __name__ == "__main__":
    main()
