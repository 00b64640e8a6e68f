"""Parallel scaling benchmark: do CPU-bound trials run twice as fast on two cores?

A sweep of 16 trials (default) whose objective is CPU-bound busy work: a pure-Python loop,
calibrated on this machine to ~1 s, that holds the GIL the whole time, so threads cannot
run two trials at once and only processes can. Rows, all measured in this one process run:

* busy loop alone: the 16 calls one after another in this process (no sweep, no tracking);
* joblib loky, n_jobs 2: the same 16 calls through joblib's process pool (no sweep, no
  tracking): what two worker processes achieve on this machine, the limit;
* tunetrack ``run_sweep`` with ``parallel: {n_jobs: 1}``;
* tunetrack ``run_sweep`` with ``parallel: {n_jobs: 2, backend: loky}`` (the target:
  >= 1.7x the n_jobs 1 sweep);
* tunetrack ``run_sweep`` with ``parallel: {n_jobs: 2, backend: threading}``: a check of the
  workload, which must *not* scale with threads (~1x).

tunetrack rows are end to end (parent run, child runs, summary) into a fresh SQLite file each
(created before the clock starts); the objective is a file written to a temporary folder next
to the sweep YAML, and its loop is the very function the raw rows call. Process workers are
started cold for every run (joblib's reusable loky pool is shut down first), so each parallel
row pays for spawning its workers and importing what they need, as a sweep started from the
command line does.

The machine may be noisy: each repeat runs every row in turn (interleaved) and the best
time of each is kept; the load average is printed before and after.

Usage::

    python benchmarks/parallel_scaling.py [--trials 16] [--seconds 1.0] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 42
TARGET_SPEEDUP = 1.7  # tunetrack n_jobs 2 (loky) vs n_jobs 1, on 2 cores
EXPERIMENT = "scaling"
OBJECTIVE_FILE = "busy.py"
SERIAL_NAME = "busy loop alone (in process)"
LIMIT_NAME = "joblib loky alone (limit)"
WARM_FILE = "busy_warm.py"  # the same with a tiny loop, for the untimed warm-up sweep
SWEEP_YAML = f"""\
name: scaling
experiment: {EXPERIMENT}
objective: {OBJECTIVE_FILE}:objective
metric: {{name: loss, goal: minimize}}
method: tpe
parameters:
  x: {{distribution: uniform, min: -10.0, max: 10.0}}
budget: {{trials: 16}}
parallel: {{n_jobs: 1, backend: loky}}
retrain: {{enabled: false}}
seed: {SEED}
"""


def busy(iterations: int) -> int:
    """Pure-Python CPU work that never releases the GIL."""
    total = 0
    for i in range(iterations):
        total = (total + i * i) % 1_000_003
    return total


def objective_source(iterations: int) -> str:
    """The sweep's objective file: ``busy`` (this very source) for ``iterations`` steps."""
    return (
        '"""CPU-bound objective of benchmarks/parallel_scaling.py."""\n\n'
        f"ITERATIONS = {iterations}\n\n\n"
        f"{inspect.getsource(busy)}\n\n"
        "def objective(params):\n"
        "    busy(ITERATIONS)\n"
        '    return params["x"] ** 2\n'
    )


def calibrate(seconds: float) -> int:
    """Loop iterations that take about ``seconds`` here (best of 3 timings of a sample)."""
    sample = 2_000_000
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        busy(sample)
        best = min(best, time.perf_counter() - t0)
    return max(1, int(sample * seconds / best))


def stop_loky_workers() -> None:
    """Shut joblib's reusable process pool down, so the next parallel run starts cold."""
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


@dataclass
class Sample:
    """One timed run; tunetrack rows also know how long each trial took in its worker."""

    seconds: float
    problem: str = ""  # "" unless a check failed
    trial_seconds: list[float] | None = None  # TrialResult.duration of every trial
    n_jobs: int = 1

    @property
    def outside_trials(self) -> float | None:
        """Wall clock not spent in trials: wall - sum(trial durations) / n_jobs (workers
        start-up, dispatch, the parent run and summary; trials' own tracking is inside)."""
        if not self.trial_seconds:
            return None
        return self.seconds - sum(self.trial_seconds) / self.n_jobs


@dataclass
class Row:
    name: str
    n_jobs: int
    bench: Callable[[], Sample]  # runs once
    baseline: str = ""  # name of the row its speedup is measured against
    target: bool = False
    note: str = ""
    seconds: float = float("inf")
    best: Sample | None = None  # the fastest run

    def run(self) -> None:
        if self.n_jobs != 1:
            stop_loky_workers()
        gc.collect()
        sample = self.bench()
        if sample.seconds < self.seconds:
            self.seconds, self.best = sample.seconds, sample
        if sample.problem and sample.problem not in self.note:
            self.note = f"WARNING: {sample.problem}; {self.note}"


def raw_serial(trials: int, iterations: int) -> Sample:
    t0 = time.perf_counter()
    for _ in range(trials):
        busy(iterations)
    return Sample(time.perf_counter() - t0)


def raw_loky(trials: int, iterations: int) -> Sample:
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    done = Parallel(n_jobs=2, backend="loky")(delayed(busy)(iterations) for _ in range(trials))
    seconds = time.perf_counter() - t0
    problem = "" if len(done) == trials else f"{len(done)} calls returned, not {trials}"
    return Sample(seconds, problem, n_jobs=2)


def tunetrack_sweep(tmp: Path, config: Any, trials: int) -> Sample:
    from tunetrack import Client
    from tunetrack.sweep.runner import run_sweep

    uri = f"sqlite:///{tmp / f'tunetrack-{time.monotonic_ns()}.db'}"
    Client(uri).create_experiment(EXPERIMENT)  # database created + migrated before timing
    t0 = time.perf_counter()
    result = run_sweep(config, tracking_uri=uri, progress=False)
    seconds = time.perf_counter() - t0
    finished = result.counts.get("finished", 0)
    problem = "" if finished == trials else f"{finished} trials finished, not {trials}"
    durations = [t.duration for t in result.results]
    return Sample(seconds, problem, durations, config.parallel.n_jobs)


def _context(row: Row, base: Row, speedup: float, limit: Row | None, serial: Row | None) -> str:
    """For the target row, on a loaded machine: how it compares with what plain processes
    reached in the same run, and the speedup it would have with both cores free (the n_jobs
    1 sweep's trial time split over the workers, plus the time this run spent outside trials)."""
    parts = []
    if limit is not None and serial is not None:
        limit_speedup = serial.seconds / limit.seconds
        parts.append(f"{speedup / limit_speedup:.0%} of joblib's {limit_speedup:.2f}x")
    work = base.best.trial_seconds if base.best else None
    outside = row.best.outside_trials if row.best else None
    if work and outside is not None:
        free = base.seconds / (sum(work) / row.n_jobs + outside)
        parts.append(f"free cores est. {free:.2f}x")
    return f" ({'; '.join(parts)})" if parts else ""


def print_table(rows: list[Row], trials: int) -> None:
    by_name = {r.name: r for r in rows}
    header = (
        f"{'contender':<42} {'n_jobs':>6} {'wall s':>7} {'s/trial':>8} {'speedup':>8} "
        f"{'target':>7} {'mean trial s':>13} {'outside trials s':>17}  vs / note"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        base = by_name.get(row.baseline)
        speedup = base.seconds / row.seconds if base else None
        verdict = "-"
        if row.target and speedup is not None:
            verdict = "PASS" if speedup >= TARGET_SPEEDUP else "FAIL"
        shown = "-" if speedup is None else f"{speedup:.2f}x"
        durations = row.best.trial_seconds if row.best else None
        mean = f"{statistics.mean(durations):.3f}" if durations else "-"
        outside = row.best.outside_trials if row.best else None
        outside_shown = "-" if outside is None else f"{outside:.2f}"
        vs = f"vs {row.baseline}" if base else ""
        if row.target and base is not None and speedup is not None:
            vs += _context(row, base, speedup, by_name.get(LIMIT_NAME), by_name.get(SERIAL_NAME))
        note = "; ".join(x for x in (vs, row.note) if x)
        print(
            f"{row.name:<42} {row.n_jobs:>6} {row.seconds:>7.2f} {row.seconds / trials:>8.3f} "
            f"{shown:>8} {verdict:>7} {mean:>13} {outside_shown:>17}  {note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16, help="trials per sweep")
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per trial")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (best kept)")
    parser.add_argument(
        "--quick", action="store_true", help="4 trials of 0.25 s, 1 repeat (smoke test)"
    )
    args = parser.parse_args()
    if args.quick:
        args.trials, args.seconds, args.repeats = 4, 0.25, 1
    trials = args.trials

    warnings.filterwarnings("ignore")
    from tunetrack.sweep.config import load_sweep_config

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    iterations = calibrate(args.seconds)

    with tempfile.TemporaryDirectory(prefix="tunetrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / OBJECTIVE_FILE).write_text(objective_source(iterations))
        (tmp / WARM_FILE).write_text(objective_source(1000))
        sweep_file = tmp / "scaling.yaml"
        sweep_file.write_text(SWEEP_YAML)

        def config(n_jobs: int, backend: str = "loky") -> Any:
            overrides = [
                f"budget.trials={trials}",
                f"parallel.n_jobs={n_jobs}",
                f"parallel.backend={backend}",
            ]
            return load_sweep_config(sweep_file, overrides)

        # Warm-up, untimed: imports and first-use costs of a sweep in this process.
        warm = [f"objective={WARM_FILE}:objective", "budget.trials=2"]
        tunetrack_sweep(tmp, load_sweep_config(sweep_file, warm), 2)

        serial_name, ours_name = SERIAL_NAME, "tunetrack run_sweep, n_jobs 1"
        rows = [
            Row(serial_name, 1, lambda: raw_serial(trials, iterations)),
            Row(
                LIMIT_NAME,
                2,
                lambda: raw_loky(trials, iterations),
                baseline=serial_name,
            ),
            Row(ours_name, 1, lambda: tunetrack_sweep(tmp, config(1), trials)),
            Row(
                "tunetrack run_sweep, n_jobs 2, loky",
                2,
                lambda: tunetrack_sweep(tmp, config(2), trials),
                baseline=ours_name,
                target=True,
            ),
            Row(
                "tunetrack run_sweep, n_jobs 2, threading",
                2,
                lambda: tunetrack_sweep(tmp, config(2, "threading"), trials),
                baseline=ours_name,
                note="GIL check: ~1x expected",
            ),
        ]
        for _ in range(args.repeats):
            for row in rows:
                row.run()
        stop_loky_workers()
    load_after = ", ".join(f"{x:.1f}" for x in os.getloadavg())

    print(
        f"\nParallel scaling: {trials} CPU-bound trials of ~{args.seconds:g} s (pure-Python "
        f"loop, {iterations:,} iterations), {cores} cores; best of {args.repeats}, interleaved"
    )
    print(
        f"load average before {load_before}, after {load_after}; process workers start cold "
        f"in every run; target: tunetrack n_jobs 2 >= {TARGET_SPEEDUP}x n_jobs 1"
    )
    print(
        "mean trial s = a trial's own time in its worker (objective + its tracking); outside "
        "trials s = wall - sum(trial s) / n_jobs"
    )
    print()
    print_table(rows, trials)


if __name__ == "__main__":
    main()
