"""Web UI benchmark: time to the last byte of the UI's pages, beside the MLflow server's
calls that fetch the same data.

One ``tunetrack server`` process (it serves the UI) and, when mlflow is installed, one
``mlflow server`` process, each over a fresh store of the same kind with the same data:

* runs page: ``--sizes`` runs (benchmarks/search.py's runs: 10 params, 5 metrics, 3 tags) in
  one experiment; the page of 100 rows filtered by search.py's filter and sorted by its
  metric, with 5 chosen columns. MLflow: ``POST /api/2.0/mlflow/runs/search`` with the same
  filter, order and ``max_results=100`` (what its runs table calls; JSON only, no HTML).
* run page: one run whose metric has 200,000 points; the page draws it downsampled.
  MLflow: ``GET /api/2.0/mlflow/metrics/get-history`` of that metric (every point).
* sweep page: a sweep of 2,000 finished trials (3 params, the objective reported at 10
  steps each); the page with history, importance (first view computes fANOVA, later views
  hit the cache), slices and intermediate values. MLflow: the two ``runs/search`` pages
  of 1,000 children of the parent run (``tags.mlflow.parentRunId``).

Each page is fetched once to warm up, then ``--repeats`` times; the median time to the last
byte is printed (httpx in this process, keep-alive). Every contender gets the same data, a
fresh store and the same worker count (1); the stores' durability settings are printed.

Usage::

    python benchmarks/ui.py [--sizes 10000,100000] [--repeats 7] [--quick] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from search import FILTER, ORDER_BY, make_runs
from server import (
    free_port,
    fresh_store,
    load_mlflow,
    load_tunetrack,
    mlflow_command,
    mlflow_store,
    progress,
    serving,
    tunetrack_command,
)

CHART_POINTS = 200_000
TRIALS = 2_000
TRIAL_STEPS = 10
COLUMNS = "metrics.m0,metrics.m1,params.p0,params.p1,tags.t0"
TARGETS_MS = {"runs page": {10_000: 100.0, 100_000: 300.0}, "run page": 150.0}


@dataclass
class Row:
    what: str
    ours_ms: float | None = None
    mlflow_ms: float | None = None
    note: str = ""


def time_fetch(fetch: Callable[[], httpx.Response], repeats: int) -> float:
    """Median ms to the last byte after one warm-up; every answer must be a 200 (the
    figure is also printed as it is measured)."""
    fetch().raise_for_status()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = fetch()
        response.read()
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    median = statistics.median(times)
    progress(f"    {median:.1f} ms")
    return median


# -- data ----------------------------------------------------------------------------------


def long_metric_tunetrack(uri: str, artifacts: Path) -> str:
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, str(artifacts))
    exp = store.create_experiment("chart-bench")
    run = store.create_run(exp, start_time=int(time.time() * 1000), run_name="long")
    rng = random.Random(1)
    rows = [(run.info.run_id, "loss", step, step, rng.random()) for step in range(CHART_POINTS)]
    for start in range(0, len(rows), 20_000):
        store.log_metric_rows(rows[start : start + 20_000])
    store.close()
    return run.info.run_id


def long_metric_mlflow(uri: str, artifacts: Path) -> str:
    from mlflow.store.tracking.dbmodels import models as orm

    store = mlflow_store(uri, artifacts)
    exp = store.create_experiment("chart-bench")
    run = store.create_run(exp, "", int(time.time() * 1000), [], "long")
    rid = run.info.run_id
    rng = random.Random(1)
    for start in range(0, CHART_POINTS, 20_000):
        rows = [
            orm.SqlMetric(key="loss", value=rng.random(), timestamp=step, step=step,
                          is_nan=False, run_uuid=rid)
            for step in range(start, min(start + 20_000, CHART_POINTS))
        ]  # fmt: skip
        with store.ManagedSessionMaker() as session:
            session.add_all(rows)
    store.engine.dispose()
    return rid


def _trial_values(i: int) -> tuple[dict[str, str], list[float]]:
    rng = random.Random(i)
    params = {"lr": f"{10 ** rng.uniform(-4, -1):.6g}", "depth": str(rng.randint(2, 12)),
              "kind": rng.choice(["a", "b", "c"])}  # fmt: skip
    start = rng.uniform(0.5, 1.0)
    return params, [start * (0.9**s) + rng.uniform(0, 0.01) for s in range(TRIAL_STEPS)]


def sweep_tunetrack(uri: str, artifacts: Path) -> str:
    from tunetrack.entities import RunStatus
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.sweep import tags as T

    store = SqlStore(uri, str(artifacts))
    exp = store.create_experiment("sweep-bench")
    now = int(time.time() * 1000)
    parent = store.create_run(
        exp, start_time=now, run_name="sweep",
        tags={T.RUN_TYPE: "sweep", T.SWEEP_GOALS: json.dumps([["loss", "minimize"]])},
    )  # fmt: skip
    pid = parent.info.run_id
    rows = []
    for i in range(TRIALS):
        params, losses = _trial_values(i)
        run = store.create_run(
            exp, start_time=now + i, run_name=f"trial-{i}", params=params,
            tags={T.RUN_TYPE: "trial", T.TRIAL_NUMBER: str(i), "mlflow.parentRunId": pid},
            parent_run_id=pid,
        )  # fmt: skip
        rows += [(run.info.run_id, "loss", s, now + s, v) for s, v in enumerate(losses)]
        store.update_run_info(run.info.run_id, status=RunStatus.FINISHED, end_time=now + i + 1)
    store.log_metric_rows(rows)
    store.update_run_info(pid, status=RunStatus.FINISHED, end_time=now + TRIALS + 1)
    store.close()
    return pid


def sweep_mlflow(uri: str, artifacts: Path) -> str:
    store = mlflow_store(uri, artifacts)
    from mlflow.entities import Metric, Param, RunStatus, RunTag

    exp = store.create_experiment("sweep-bench")
    now = int(time.time() * 1000)
    parent = store.create_run(exp, "", now, [], "sweep")
    pid = parent.info.run_id
    for i in range(TRIALS):
        params, losses = _trial_values(i)
        run = store.create_run(exp, "", now + i, [RunTag("mlflow.parentRunId", pid)], f"trial-{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", v, now + s, s) for s, v in enumerate(losses)],
            params=[Param(k, v) for k, v in params.items()],
            tags=[],
        )
        store.update_run_info(run.info.run_id, RunStatus.FINISHED, now + i + 1, None)
    store.engine.dispose()
    return pid


# -- sides ---------------------------------------------------------------------------------


def measure_tunetrack(tmp: Path, sizes: list[int], repeats: int) -> dict[str, float]:
    found: dict[str, float] = {}
    for n in sizes:
        with fresh_store("sqlite", tmp, f"ui-tt-{n}") as uri:
            progress(f"tunetrack: loading {n:,} runs")
            exp = load_tunetrack(uri, tmp / "tt-artifacts", make_runs(n))
            record_journal("tunetrack", uri)
            if n == sizes[0]:
                long_run = long_metric_tunetrack(uri, tmp / "tt-artifacts")
                sweep = sweep_tunetrack(uri, tmp / "tt-artifacts")
            port = free_port()
            command = tunetrack_command(uri, tmp / "tt-artifacts", port, 1)
            with (
                serving(command, port, tmp / f"tt-{n}.log") as url,
                httpx.Client(base_url=url, timeout=120) as client,
            ):
                params = {"filter": FILTER, "order": ORDER_BY[0], "cols": COLUMNS,
                          "n": 100, "nested": 0}  # fmt: skip
                found[f"runs page, {n:,} runs"] = time_fetch(
                    functools.partial(client.get, f"/experiments/{exp}", params=params), repeats
                )
                if n == sizes[0]:
                    found["run page, 200,000-point metric"] = time_fetch(
                        functools.partial(client.get, f"/runs/{long_run}"), repeats
                    )
                    start = time.perf_counter()
                    client.get(f"/sweeps/{sweep}").raise_for_status()  # cold: fANOVA
                    found["sweep page, 2,000 trials (first view)"] = (
                        time.perf_counter() - start
                    ) * 1000
                    found["sweep page, 2,000 trials"] = time_fetch(
                        functools.partial(client.get, f"/sweeps/{sweep}"), repeats
                    )
    return found


def measure_mlflow(tmp: Path, sizes: list[int], repeats: int) -> dict[str, float]:
    found: dict[str, float] = {}
    api = "/api/2.0/mlflow"
    for n in sizes:
        with fresh_store("sqlite", tmp, f"ui-ml-{n}") as uri:
            progress(f"mlflow: loading {n:,} runs")
            exp = load_mlflow(uri, tmp / "ml-artifacts", make_runs(n))
            record_journal("mlflow", uri)
            if n == sizes[0]:
                long_run = long_metric_mlflow(uri, tmp / "ml-artifacts")
                sweep = sweep_mlflow(uri, tmp / "ml-artifacts")
            port = free_port()
            command = mlflow_command(uri, tmp / "ml-artifacts", port, 1)
            with (
                serving(command, port, tmp / f"ml-{n}.log") as url,
                httpx.Client(base_url=url, timeout=120) as client,
            ):
                body = {"experiment_ids": [exp], "filter": FILTER, "order_by": ORDER_BY,
                        "max_results": 100}  # fmt: skip
                found[f"runs page, {n:,} runs"] = time_fetch(
                    functools.partial(client.post, f"{api}/runs/search", json=body), repeats
                )
                if n == sizes[0]:
                    history = {"run_id": long_run, "metric_key": "loss"}
                    found["run page, 200,000-point metric"] = time_fetch(
                        functools.partial(client.get, f"{api}/metrics/get-history", params=history),
                        repeats,
                    )
                    search = {
                        "experiment_ids": [_experiment_of(client, sweep)],
                        "filter": f"tags.mlflow.parentRunId = '{sweep}'",
                        "max_results": 1000,
                    }

                    found["sweep page, 2,000 trials"] = time_fetch(
                        functools.partial(_all_children, client, search), repeats
                    )
    return found


def _all_children(client: httpx.Client, search: dict[str, object]) -> httpx.Response:
    """Both pages of a sweep's 2,000 children (the last answer is returned)."""
    first = client.post("/api/2.0/mlflow/runs/search", json=search)
    token = first.json().get("next_page_token")
    if not token:
        return first
    return client.post("/api/2.0/mlflow/runs/search", json={**search, "page_token": token})


def _experiment_of(client: httpx.Client, run_id: str) -> str:
    got = client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    return got.json()["run"]["info"]["experiment_id"]


JOURNALS: dict[str, str] = {}  # contender -> journal_mode read back from its file


def record_journal(who: str, uri: str) -> None:
    """Read the journal mode a store left in its SQLite file (WAL persists in the file)."""
    import sqlite3

    conn = sqlite3.connect(uri.removeprefix("sqlite:///"))
    try:
        JOURNALS[who] = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def durability() -> str:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    version = conn.execute("select sqlite_version()").fetchone()[0]
    conn.close()
    modes = ", ".join(f"{who} journal_mode={mode}" for who, mode in JOURNALS.items())
    return f"SQLite {version}, read back from each store's file: {modes}. Reads only here."


def print_table(rows: list[Row]) -> None:
    print()
    print(f"{'page':<42} {'tunetrack ms':>13} {'mlflow ms':>10} {'ratio':>7}  target")
    for row in rows:
        ours = f"{row.ours_ms:.1f}" if row.ours_ms is not None else "-"
        peer = f"{row.mlflow_ms:.1f}" if row.mlflow_ms is not None else "-"
        ratio = (
            f"{row.mlflow_ms / row.ours_ms:.1f}x"
            if row.ours_ms and row.mlflow_ms is not None
            else "-"
        )
        print(f"{row.what:<42} {ours:>13} {peer:>10} {ratio:>7}  {row.note}")
    print()
    print("ratio = mlflow / tunetrack (above 1: tunetrack faster). tunetrack's times are whole")
    print("HTML pages (rows, charts, importance); mlflow's are the JSON calls behind its pages.")
    print(durability())


def _note(what: str, ours: float | None) -> str:
    target: float | None = None
    if what.startswith("runs page"):
        n = int(what.split(", ")[1].split()[0].replace(",", ""))
        target = TARGETS_MS["runs page"].get(n)
    elif what.startswith("run page"):
        target = TARGETS_MS["run page"]
    if target is None or ours is None:
        return ""
    return f"< {target:.0f} ms: {'PASS' if ours < target else 'FAIL'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="runs in the runs-page stores")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 runs, 3 repeats")
    parser.add_argument("--no-mlflow", action="store_true", help="measure tunetrack only")
    args = parser.parse_args()
    sizes = [2_000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 3 if args.quick else args.repeats
    with_mlflow = not args.no_mlflow and importlib.util.find_spec("mlflow") is not None
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as folder:
        tmp = Path(folder)
        ours = measure_tunetrack(tmp, sizes, repeats)
        theirs = measure_mlflow(tmp, sizes, repeats) if with_mlflow else {}
    rows = [Row(what, ms, theirs.get(what), _note(what, ms)) for what, ms in ours.items()]
    print_table(rows)
    if args.no_mlflow:
        print("mlflow was left out (--no-mlflow): its column is empty.")
    elif not with_mlflow:
        print("mlflow is not installed (pip install -e '.[bench]'): its column is empty.")


if __name__ == "__main__":
    main()
