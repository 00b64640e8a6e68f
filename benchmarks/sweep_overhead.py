"""Sweep overhead benchmark: what does a tunetrack sweep add to each trial on top of optuna?

Every contender runs the same trials: the same trivial objective (a quadratic of three float
parameters, from one file written to a temporary folder next to the sweep YAML), the same
sampler (optuna's multivariate TPE, seeded, as tunetrack's ``method: tpe`` builds it) and
``n_jobs: 1``. Rows, all measured in this one process run:

* optuna alone: ``study.optimize`` over in-memory storage (no tracking at all);
* optuna + MLflow (if installed): the same, with ``optuna.integration.MLflowCallback``
  (optuna-integration; a hand-written callback otherwise) logging one nested child run per
  trial (params + value) under a parent run, into a fresh SQLite file;
* tunetrack: ``run_sweep`` end to end into a fresh SQLite file: the parent run with its
  config artifacts, one child run per trial (created before dispatch, params, final metric,
  status), ``tell``, and the sweep summary on the parent (counts, best trial, trials.csv,
  charts);
* tunetrack without the summary: the same runs minus the time spent in ``write_summary``
  (timed by wrapping it; it is once per sweep, though it reads every trial back).

Each database is created (and migrated) before the clock starts, as ``benchmarks/ingest.py``
does; imports and first-use costs are paid by a warm-up sweep of every contender first. Each
side's ``journal_mode`` and ``synchronous``, read back from the connection it wrote through,
are printed under the table.

Two per-trial figures: ``ms/trial`` is wall clock / trials (one-time costs included).
``marginal`` is the slope between a sweep of N and one of N/10 trials,
(T(N) - T(N/10)) / (N - N/10): the cost of one more trial, with every fixed cost (parent
run, config artifacts, study creation, the summary's fixed part) cancelled out. TPE's own
cost grows with the number of finished trials, so the slope is larger than the average for
optuna too; compare a slope with a slope.

The machine may be noisy: each repeat runs every contender and size in turn (interleaved,
each into fresh files) and the best time of each is kept. ``--profile`` then runs one more
tunetrack sweep under cProfile and counts its SQL statements and transactions per trial.

Usage::

    python benchmarks/sweep_overhead.py [--trials 300] [--repeats 3] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib.util
import logging
import os
import pstats
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _sqlite_durability import SqliteEngines

SEED = 42
TARGET_RATIO = 1.5  # tunetrack ms/trial <= 1.5x optuna alone, tracking included (issue 10)
PARAMS = ("x", "y", "z")
LOW, HIGH = -10.0, 10.0
EXPERIMENT = "overhead"
OBJECTIVE_FILE = "quadratic.py"
OBJECTIVE_SOURCE = '''\
"""The trivial objective of benchmarks/sweep_overhead.py (tunetrack and optuna both)."""


def objective(params):
    return (params["x"] - 1.0) ** 2 + (params["y"] + 2.0) ** 2 + (params["z"] - 0.5) ** 2
'''
_SPACE = "".join(f"  {p}: {{distribution: uniform, min: {LOW}, max: {HIGH}}}\n" for p in PARAMS)
SWEEP_YAML = f"""\
name: overhead
experiment: {EXPERIMENT}
objective: {OBJECTIVE_FILE}:objective
metric: {{name: loss, goal: minimize}}
method: tpe
parameters:
{_SPACE}budget: {{trials: 10}}
parallel: {{n_jobs: 1}}
retrain: {{enabled: false}}
seed: {SEED}
"""


@dataclass
class Sample:
    """One timed sweep."""

    seconds: float
    best: float | None = None  # best loss found (same sampler + seed: same for everyone)
    summary_seconds: float | None = None  # tunetrack: time inside write_summary
    problem: str = ""  # a failed check (wrong number of trials or runs stored)
    db: Path | None = None  # the SQLite file it tracked into


@dataclass
class Row:
    name: str
    times: dict[int, float] = field(default_factory=dict)  # trials -> best seconds
    best: dict[int, set[float]] = field(default_factory=dict)  # trials -> best loss found
    target: bool = False  # a tunetrack row: judged against TARGET_RATIO
    note: str = ""
    durability: set[str] = field(default_factory=set)  # journal_mode, synchronous used

    def add(self, n: int, seconds: float, best: float | None, problem: str) -> None:
        self.times[n] = min(self.times.get(n, float("inf")), seconds)
        if best is not None:
            self.best.setdefault(n, set()).add(round(best, 9))
        if problem and problem not in self.note:
            self.note = f"WARNING: {problem}; {self.note}"

    def ms_per_trial(self, n: int) -> float:
        return self.times[n] / n * 1000.0

    def marginal_ms(self, n: int, small: int) -> float:
        return (self.times[n] - self.times[small]) / (n - small) * 1000.0


def _quiet() -> None:
    """Call after importing optuna / mlflow (their imports configure their loggers)."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "optuna"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load_objective_file(path: Path) -> Callable[[dict[str, float]], float]:
    """The objective function from the file tunetrack's sweep names (for the optuna rows)."""
    spec = importlib.util.spec_from_file_location("sweep_overhead_objective", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.objective


def tpe_sampler() -> Any:
    """The sampler tunetrack's ``method: tpe`` builds (sweep/strategies.py), for optuna."""
    import optuna

    return optuna.samplers.TPESampler(seed=SEED, multivariate=True, group=False)


def optuna_objective(objective: Callable[[dict[str, float]], float]) -> Callable[[Any], float]:
    def run(trial: Any) -> float:
        return objective({p: trial.suggest_float(p, LOW, HIGH) for p in PARAMS})

    return run


# -- contenders -------------------------------------------------------------------------


def bench_optuna(tmp: Path, n: int, objective: Callable[..., float]) -> Sample:
    import optuna

    func = optuna_objective(objective)
    gc.collect()
    t0 = time.perf_counter()
    study = optuna.create_study(sampler=tpe_sampler(), direction="minimize")
    study.optimize(func, n_trials=n)
    seconds = time.perf_counter() - t0
    problem = "" if len(study.trials) == n else f"{len(study.trials)} trials, not {n}"
    return Sample(seconds, study.best_value, problem=problem)


def mlflow_callback_kind() -> str:
    try:
        from optuna.integration import MLflowCallback  # noqa: F401
    except ImportError:
        return "hand-written callback"
    return "MLflowCallback"


def bench_optuna_mlflow(tmp: Path, n: int, objective: Callable[..., float]) -> Sample:
    """optuna + one nested MLflow child run per trial (params + value) under a parent run."""
    import mlflow
    import optuna

    db = tmp / f"mlflow-{n}-{time.monotonic_ns()}.db"
    uri = f"sqlite:///{db}"
    _quiet()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(EXPERIMENT)  # creates + migrates the database, outside the timing
    try:
        from optuna.integration import MLflowCallback

        # Defaults, except nesting: per trial it sets the experiment (named after the study),
        # starts a nested run, sets tags, logs the value and the params.
        callback: Callable[..., None] = MLflowCallback(
            tracking_uri=uri, metric_name="loss", mlflow_kwargs={"nested": True}
        )
    except ImportError:

        def callback(study: Any, trial: Any) -> None:
            with mlflow.start_run(run_name=str(trial.number), nested=True):
                mlflow.log_params(trial.params)
                mlflow.log_metric("loss", trial.value)

    func = optuna_objective(objective)
    gc.collect()
    t0 = time.perf_counter()
    with mlflow.start_run(run_name="overhead"):
        study = optuna.create_study(
            sampler=tpe_sampler(), direction="minimize", study_name=EXPERIMENT
        )
        study.optimize(func, n_trials=n, callbacks=[callback])
    seconds = time.perf_counter() - t0
    con = sqlite3.connect(db)
    try:
        runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()
    problem = "" if runs == n + 1 else f"{runs} mlflow runs stored, not {n + 1}"
    return Sample(seconds, study.best_value, problem=problem, db=db)


@contextlib.contextmanager
def timed_summary() -> Iterator[list[float]]:
    """Time every call of tunetrack's ``write_summary`` (the runner imports it at call time)."""
    import tunetrack.sweep.summary as summary_module

    original = summary_module.write_summary
    spent: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    summary_module.write_summary = timed
    try:
        yield spent
    finally:
        summary_module.write_summary = original


def fresh_tunetrack_db(tmp: Path, n: int) -> str:
    """A new SQLite store with the sweep's experiment (created and migrated, untimed)."""
    from tunetrack import Client

    uri = f"sqlite:///{tmp / f'tunetrack-{n}-{time.monotonic_ns()}.db'}"
    Client(uri).create_experiment(EXPERIMENT)
    return uri


def bench_tunetrack(tmp: Path, n: int, config: Any) -> Sample:
    from tunetrack.sweep.runner import run_sweep

    uri = fresh_tunetrack_db(tmp, n)
    gc.collect()
    with timed_summary() as spent:
        t0 = time.perf_counter()
        result = run_sweep(config, tracking_uri=uri, progress=False)
        seconds = time.perf_counter() - t0
    finished = result.counts.get("finished", 0)
    problem = "" if finished == n else f"{finished} trials finished, not {n}"
    if len(spent) != 1:
        problem = f"write_summary called {len(spent)} times; {problem}"
    db = Path(uri.removeprefix("sqlite:///"))
    return Sample(seconds, result.best_value, spent[0] if spent else None, problem, db)


# -- profile ----------------------------------------------------------------------------

# Where a trial's time goes: (module, attribute, label). Timed by wrapping, without cProfile,
# so the figures are real; nested rows (indented) are part of the row above them.
BREAKDOWN = (
    ("tunetrack.sweep.strategies", "Strategy.ask", "Strategy.ask (TPE sampling + suggest)"),
    ("tunetrack.tracking.client", "Client.create_run", "Client.create_run (run, params, tags)"),
    ("tunetrack.sweep.runner", "execute_trial", "execute_trial (in process with n_jobs 1)"),
    ("tunetrack.tracking.client", "Client.log_batch", "  Client.log_batch (suggest_* params)"),
    ("tunetrack.sweep.worker", "load_objective", "  load_objective (cached)"),
    ("tunetrack.tracking.client", "Client.set_terminated", "  Client.set_terminated (metrics+end)"),
    ("tunetrack.tracking.client", "Client.flush", "    Client.flush (reported steps)"),
    ("tunetrack.sweep.strategies", "Strategy.tell", "Strategy.tell"),
    ("tunetrack.sweep.summary", "write_summary", "write_summary (once per sweep)"),
)


@contextlib.contextmanager
def sql_counter() -> Iterator[dict[str, Any]]:
    """Count SQL statements (by kind and table) and commits on every SQLAlchemy engine,
    including those the store's hot path runs on the driver's cursor (run_driver_sql)."""
    from collections import Counter

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from tunetrack.store.sql import store as sql_store

    counts: dict[str, Any] = {"statements": 0, "commits": 0, "kinds": Counter()}

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counts["statements"] += 1
        words = statement.split()
        kind = " ".join(words[:1])
        for marker in ("FROM", "INTO", "UPDATE"):
            if marker in words[:-1] and (marker != "FROM" or kind == "SELECT"):
                kind += f" {words[words.index(marker) + 1]}"
                break
        counts["kinds"][kind] += 1

    def on_commit(*args: Any) -> None:
        counts["commits"] += 1

    run_driver_sql = sql_store.run_driver_sql

    def counted_driver_sql(conn: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        on_statement(conn, None, statement)
        return run_driver_sql(conn, statement, *args, **kwargs)

    event.listen(Engine, "before_cursor_execute", on_statement)
    event.listen(Engine, "commit", on_commit)
    sql_store.run_driver_sql = counted_driver_sql
    try:
        yield counts
    finally:
        sql_store.run_driver_sql = run_driver_sql
        event.remove(Engine, "before_cursor_execute", on_statement)
        event.remove(Engine, "commit", on_commit)


@contextlib.contextmanager
def breakdown(counts: dict[str, Any]) -> Iterator[dict[str, list[float]]]:
    """Wrap the BREAKDOWN functions: label -> [seconds, calls, statements, commits]."""
    import importlib

    spent: dict[str, list[float]] = {}
    undo: list[tuple[Any, str, Any]] = []
    for module_name, attribute, label in BREAKDOWN:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        totals = spent.setdefault(label, [0.0, 0, 0, 0])

        def timed(*args: Any, _f: Any = original, _t: list[float] = totals, **kw: Any) -> Any:
            before = counts["statements"], counts["commits"]
            t0 = time.perf_counter()
            try:
                return _f(*args, **kw)
            finally:
                _t[0] += time.perf_counter() - t0
                _t[1] += 1
                _t[2] += counts["statements"] - before[0]
                _t[3] += counts["commits"] - before[1]

        setattr(owner, name, timed)
        undo.append((owner, name, original))
    try:
        yield spent
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def profile_tunetrack(tmp: Path, n: int, config: Any, repeats: int, top: int = 20) -> None:
    """Where a tunetrack trial's time goes: timed components, SQL, then cProfile."""
    import tunetrack
    from tunetrack.sweep.runner import run_sweep

    # 1. Real (unprofiled) time per component, and the SQL each one issues; the fastest of
    #    ``repeats`` sweeps is shown (one whole run, so its rows add up).
    best: tuple[float, dict[str, Any], dict[str, list[float]]] | None = None
    for _ in range(repeats):
        uri = fresh_tunetrack_db(tmp, n)
        with sql_counter() as counts, breakdown(counts) as spent:
            gc.collect()
            t0 = time.perf_counter()
            run_sweep(config, tracking_uri=uri, progress=False)
            seconds = time.perf_counter() - t0
        if best is None or seconds < best[0]:
            best = seconds, counts, spent
    assert best is not None
    seconds, counts, spent = best
    print(f"\nProfile of a tunetrack sweep of {n} trials (n_jobs 1, SQLite), best of {repeats}")
    print(
        f"wall {seconds:.3f} s = {seconds / n * 1000:.2f} ms/trial; SQL: "
        f"{counts['statements'] / n:.2f} statements and {counts['commits'] / n:.2f} "
        f"transactions per trial (whole sweep / {n})"
    )
    print(
        f"\n{'component (timed by wrapping, no profiler)':<46} {'ms/trial':>9} "
        f"{'calls/trial':>12} {'SQL stmts/trial':>16} {'txns/trial':>11}"
    )
    top_level = 0.0
    for _module, _attribute, label in BREAKDOWN:
        secs, calls, statements, commits = spent[label]
        if not label.startswith(" "):
            top_level += secs
        print(
            f"{label:<46} {secs / n * 1000:>9.3f} {calls / n:>12.2f} "
            f"{statements / n:>16.2f} {commits / n:>11.2f}"
        )
    rest = seconds - top_level
    print(f"{'rest (setup, joblib, runner bookkeeping)':<46} {rest / n * 1000:>9.3f}")
    print(f"\n{'SQL statement (kind, table)':<46} {'per trial':>9}")
    for kind, count in counts["kinds"].most_common(12):
        print(f"{kind:<46} {count / n:>9.2f}")

    # 2. cProfile, tunetrack's own functions by cumulative time (inflated by the profiler).
    uri = fresh_tunetrack_db(tmp, n)
    package = str(Path(tunetrack.__file__).parent)
    profiler = cProfile.Profile()
    gc.collect()
    t0 = time.perf_counter()
    profiler.enable()
    run_sweep(config, tracking_uri=uri, progress=False)
    profiler.disable()
    seconds = time.perf_counter() - t0
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (_cc, calls, _tt, cumulative, _callers) in stats.items():
        if filename.startswith(package):
            where = f"{Path(filename).relative_to(package).as_posix()}:{line}({func})"
            rows.append((cumulative, calls, where))
    rows.sort(reverse=True)
    print(
        f"\ncProfile, sorted by cumulative: wall {seconds / n * 1000:.2f} ms/trial under the "
        f"profiler; functions in src/tunetrack"
    )
    print(f"{'ms/trial (cumulative)':>22} {'calls/trial':>12}  function")
    for cumulative, calls, where in rows[:top]:
        print(f"{cumulative / n * 1000:>22.3f} {calls / n:>12.2f}  {where}")


# -- output -----------------------------------------------------------------------------


def _verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET_RATIO else "FAIL"


def print_table(rows: list[Row], n: int, small: int) -> None:
    base = rows[0]
    base_ms, base_marginal = base.ms_per_trial(n), base.marginal_ms(n, small)
    header = (
        f"{'contender':<50} {'wall s':>7} {'ms/trial':>9} {'x optuna':>9} {'target':>7} "
        f"{'marginal':>9} {'x optuna':>9} {'target':>7} {'best loss':>10}  note"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if n not in row.times:
            print(
                f"{row.name:<50} {'-':>7} {'-':>9} {'-':>9} {'-':>7} {'-':>9} {'-':>9} "
                f"{'-':>7} {'-':>10}  {row.note}"
            )
            continue
        ms, marginal = row.ms_per_trial(n), row.marginal_ms(n, small)
        ratio, marginal_ratio = ms / base_ms, marginal / base_marginal
        verdict = _verdict(ratio) if row.target else "-"
        marginal_verdict = _verdict(marginal_ratio) if row.target else "-"
        found = row.best.get(n, set())
        best = f"{min(found):.6g}" if len(found) == 1 else "differs" if found else "-"
        print(
            f"{row.name:<50} {row.times[n]:>7.3f} {ms:>9.2f} {ratio:>9.2f} {verdict:>7} "
            f"{marginal:>9.2f} {marginal_ratio:>9.2f} {marginal_verdict:>7} {best:>10}  "
            f"{row.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=300, help="trials per sweep (N)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (best kept)")
    parser.add_argument("--quick", action="store_true", help="60 trials, 1 repeat (smoke test)")
    parser.add_argument(
        "--profile", action="store_true", help="then profile one tunetrack sweep of N trials"
    )
    args = parser.parse_args()
    if args.quick:
        args.trials, args.repeats = 60, 1
    n = args.trials
    small = max(1, n // 10)
    if n <= small:
        parser.error("--trials must be at least 2")
    have_mlflow = importlib.util.find_spec("mlflow") is not None
    engines = SqliteEngines()

    import optuna

    from tunetrack.sweep.config import load_sweep_config

    _quiet()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="tunetrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / OBJECTIVE_FILE).write_text(OBJECTIVE_SOURCE)
        sweep_file = tmp / "overhead.yaml"
        sweep_file.write_text(SWEEP_YAML)
        objective = load_objective_file(tmp / OBJECTIVE_FILE)
        configs = {k: load_sweep_config(sweep_file, [f"budget.trials={k}"]) for k in (small, n)}
        warm = load_sweep_config(sweep_file, ["budget.trials=5"])

        optuna_row = Row("optuna alone (in-memory storage)")
        mlflow_row = Row(
            f"optuna + mlflow {mlflow_callback_kind()} (nested, SQLite)"
            if have_mlflow
            else "optuna + mlflow callback",
            note="" if have_mlflow else "mlflow not installed",
        )
        ours_row = Row("tunetrack run_sweep, end to end (SQLite)", target=True)
        trials_row = Row("tunetrack run_sweep minus write_summary", target=True)
        contenders: list[tuple[Row, Callable[[int], Sample]]] = [
            (optuna_row, lambda k: bench_optuna(tmp, k, objective)),
            (ours_row, lambda k: bench_tunetrack(tmp, k, configs.get(k, warm))),
        ]
        if have_mlflow:
            contenders.append((mlflow_row, lambda k: bench_optuna_mlflow(tmp, k, objective)))

        for _row, bench in contenders:  # warm-up: imports, first-use caches
            bench(5)
        summary_share: dict[int, float] = {}
        for _rep in range(args.repeats):
            for k in (small, n):
                for row, bench in contenders:
                    sample = bench(k)
                    row.add(k, sample.seconds, sample.best, sample.problem)
                    if sample.db is not None:
                        row.durability.add(engines.settings_of(sample.db))
                    if row is ours_row:
                        summary = sample.summary_seconds
                        if summary is None:
                            trials_row.note = "write_summary was not observed"
                            continue
                        trials_row.add(k, sample.seconds - summary, sample.best, "")
                        if sample.seconds == ours_row.times[k]:
                            summary_share[k] = summary
        if n in summary_share:
            trials_row.note = (
                f"write_summary took {summary_share[n] * 1000:.0f} ms at {n} trials, "
                f"{summary_share.get(small, 0.0) * 1000:.0f} ms at {small}"
            )

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\nSweep overhead: {n} trials of a 3-parameter quadratic, TPE (multivariate, "
            f"seed {SEED}), n_jobs 1; best of {args.repeats}, interleaved; load avg {load}"
        )
        print(
            f"ms/trial = wall clock / {n}, one-time costs included; marginal = "
            f"(T({n}) - T({small})) / {n - small} ms, fixed costs cancelled; "
            f"target: tunetrack <= {TARGET_RATIO:g}x optuna alone"
        )
        print()
        print_table([optuna_row, mlflow_row, ours_row, trials_row], n, small)
        print("\ndurability, read back from the connection each contender wrote through:")
        for row in (optuna_row, mlflow_row, ours_row):
            settings = " | ".join(sorted(row.durability)) or "in memory, no database"
            print(f"  {row.name:<50} {settings}")

        if args.profile:
            profile_tunetrack(tmp, n, configs[n], args.repeats)


if __name__ == "__main__":
    main()
