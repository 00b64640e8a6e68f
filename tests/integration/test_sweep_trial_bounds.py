"""Trials are bounded: ``budget.trial_timeout`` stops a hanging trial, a trial that kills its
own process fails alone, a worker killed from outside costs a re-run, not a failure.

Real loky worker processes (and forked trial processes), real SQLite files, the objectives
of ``tests/sweeps_data/bounded_objectives.py`` copied next to each sweep file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import ConfigError
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.results import SweepResult
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.worker import ERROR_TAG
from tunetrack.tracking.client import Client

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "bounded_objectives.py"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)


def write_sweep(
    tmp_path: Path,
    objective: str,
    xs: list[int],
    *,
    budget: dict[str, Any] | None = None,
    parallel: dict[str, Any] | None = None,
) -> Path:
    """A grid sweep over ``x`` in ``xs`` (one trial each) on two loky workers, maximising
    ``score``; the objective gets the fixed parameter ``markers`` (``tmp_path/markers``)."""
    folder = tmp_path / "sweep"
    folder.mkdir()
    (tmp_path / "markers").mkdir()
    shutil.copy(OBJECTIVES, folder / "objectives.py")
    data = {
        "name": objective,
        "experiment": "bounded",
        "objective": f"objectives.py:{objective}",
        "metric": {"name": "score", "goal": "maximize"},
        "method": "grid",
        "parameters": {"x": {"values": xs}, "markers": str(tmp_path / "markers")},
        "budget": {"trials": len(xs), **(budget or {})},
        "parallel": parallel or {"n_jobs": 2, "backend": "loky"},
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def trials_by_x(uri: str, sweep_id: str) -> dict[int, list[Run]]:
    """The sweep's trial runs by their ``x``, in trial-number order."""
    client = Client(uri)
    out: dict[int, list[Run]] = {}
    for run in trial_runs(client, client.get_run(sweep_id)):
        out.setdefault(json.loads(run.data.tags[T.TRIAL_PARAMS])["x"], []).append(run)
    return out


def wait_for(what: str, condition: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)
    return value


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class SweepThread:
    """``run_sweep`` in a thread of this process, so the test can act while trials run."""

    def __init__(self, path: Path, uri: str) -> None:
        self.uri = uri
        self.markers = path.parents[1] / "markers"
        self.result: SweepResult | None = None
        self.error: BaseException | None = None
        self.config = load_sweep_config(path)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = run_sweep(self.config, tracking_uri=self.uri, progress=False)
        except BaseException as exc:
            self.error = exc

    def trials(self) -> list[tuple[int, Run]]:
        """The sweep's trial runs so far, each with its ``x``."""
        client = Client(self.uri)
        experiment = client.get_experiment_by_name("bounded")
        if experiment is None:
            return []
        sweeps = client.search_runs([experiment.experiment_id], f"tags.`{T.RUN_TYPE}` = 'sweep'")
        runs = trial_runs(client, sweeps[0]) if sweeps else []
        return [(json.loads(r.data.tags[T.TRIAL_PARAMS])["x"], r) for r in runs]

    def running(self, x: int) -> Run | None:
        """The RUNNING trial run of ``x`` once its objective has started, else None."""
        started = {p.name for p in self.markers.iterdir()}  # before reading the runs: their
        for x_run, run in self.trials():  # process wrote its tags before it started them
            number = run.data.tags[T.TRIAL_NUMBER]
            if x_run == x and run.info.status == RunStatus.RUNNING and number in started:
                return run
        return None

    def finished(self) -> set[int]:
        """The ``x`` of every FINISHED trial so far."""
        return {x for x, run in self.trials() if run.info.status == RunStatus.FINISHED}

    def join(self) -> SweepResult:
        self.thread.join(300)
        assert not self.thread.is_alive(), "the sweep did not end"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def test_sweep_run_stops_a_hanging_trial_at_its_trial_timeout(
    tmp_path: Path, run_tunetrack: Callable[..., Any]
) -> None:
    """Acceptance (issue 9, item 4), through the CLI: the trial of x=3 sleeps for an hour
    (beside a process it started); ``trial_timeout: 2s`` ends it FAILED, its processes are
    gone, and the sweep runs the rest of its budget."""
    path = write_sweep(tmp_path, "hangs", [1, 2, 3, 4, 5], budget={"trial_timeout": "2s"})
    uri = f"sqlite:///{tmp_path}/t.db"
    done = run_tunetrack(
        "sweep", "run", str(path), "--tracking-uri", uri, "--no-progress", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    sweep_id = json.loads(done.stdout)["sweep_id"]
    trials = trials_by_x(uri, sweep_id)
    statuses = {x: [r.info.status for r in runs] for x, runs in trials.items()}
    assert statuses == {
        1: [RunStatus.FINISHED],
        2: [RunStatus.FINISHED],
        3: [RunStatus.FAILED],
        4: [RunStatus.FINISHED],
        5: [RunStatus.FINISHED],
    }
    assert trials[3][0].data.tags[ERROR_TAG] == "timed out after 2s"
    sleeper = int((tmp_path / "markers" / "sleeper.pid").read_text())
    wait_for("the hanging trial's own child process to be gone", lambda: not alive(sleeper))
    assert Client(uri).get_run(sweep_id).data.params["budget.trial_timeout"] == "2.0"


@pytest.mark.parametrize(("backend", "n_jobs"), [("threading", 2), ("sequential", 1)])
def test_trial_timeout_stops_a_hanging_trial_of_an_in_process_backend(
    tmp_path: Path, backend: str, n_jobs: int
) -> None:
    """A thread cannot be stopped: with a trial_timeout, threading and sequential sweeps
    run each trial in a child process, which is stopped at the timeout."""
    path = write_sweep(
        tmp_path,
        "hangs",
        [2, 3, 4],
        budget={"trial_timeout": 1.5},
        parallel={"n_jobs": n_jobs, "backend": backend},
    )
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    trials = trials_by_x(uri, result.sweep_id)
    assert {x: [r.info.status for r in runs] for x, runs in trials.items()} == {
        2: [RunStatus.FINISHED],
        3: [RunStatus.FAILED],
        4: [RunStatus.FINISHED],
    }
    assert trials[3][0].data.tags[ERROR_TAG] == "timed out after 1.5s"
    assert result.best_value == 4.0
    sleeper = int((tmp_path / "markers" / "sleeper.pid").read_text())
    wait_for("the hanging trial's own child process to be gone", lambda: not alive(sleeper))


def test_trial_timeout_with_an_in_memory_store_is_refused_before_any_trial(
    tmp_path: Path,
) -> None:
    path = write_sweep(
        tmp_path, "hangs", [1], budget={"trial_timeout": "1m"}, parallel={"backend": "threading"}
    )
    with pytest.raises(ConfigError, match="trial_timeout runs each trial in a child process"):
        run_sweep(load_sweep_config(path), tracking_uri="sqlite:///:memory:", progress=False)


@pytest.mark.parametrize(
    "backend",
    [
        "loky",
        "dask",
        pytest.param(
            "ray",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("ray") is None, reason="ray is not installed"
            ),
        ),
    ],
)
def test_a_trial_that_kills_its_worker_process_fails_alone(backend: str, tmp_path: Path) -> None:
    """x=0 SIGKILLs its own process (as the OOM killer would) while x=1 runs in the other
    worker; x=1 goes on until x=0 has ended, then finishes: only x=0 fails, with the reason,
    on loky's workers and on a Dask or Ray cluster's alike."""
    parallel = {"n_jobs": 2, "backend": backend}
    path = write_sweep(tmp_path, "dies_beside_an_innocent", [0, 1], parallel=parallel)
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    trials = trials_by_x(uri, result.sweep_id)
    [killer], [innocent] = trials[0], trials[1]
    assert innocent.info.status == RunStatus.FINISHED, innocent.data.tags
    assert innocent.data.metrics["score"] == 1.0
    assert killer.info.status == RunStatus.FAILED
    assert killer.data.tags[ERROR_TAG].startswith("worker process died: killed by SIGKILL")
    assert result.counts["finished"] == 1
    assert result.counts["failed"] == 1


def test_a_worker_killed_from_outside_costs_its_trials_a_rerun_not_a_failure(
    tmp_path: Path,
) -> None:
    """Trials x=-1 and x=-2 wait while x=0 and x=3 finish (every trial has been asked for).
    Someone SIGKILLs the worker process that runs x=-1 (the parent of the process named in
    its ``tunetrack.trial.pid`` tag): loky's pool breaks and kills its other workers, and
    both trials run again as new trials, each counted once; the sweep uses its budget."""
    path = write_sweep(tmp_path, "held", [0, -1, -2, 3], parallel={"n_jobs": 3})
    uri = f"sqlite:///{tmp_path}/t.db"
    sweep = SweepThread(path, uri)
    held = wait_for("trial x=-1 to run", lambda: sweep.running(-1))
    wait_for("trial x=-2 to run", lambda: sweep.running(-2))
    wait_for("x=0 and x=3 to finish", lambda: sweep.finished() == {0, 3})
    os.kill(psutil.Process(int(held.data.tags[T.TRIAL_PID])).ppid(), signal.SIGKILL)
    client = Client(uri)
    wait_for(
        "the sweep to see its pool broken",
        lambda: client.get_run(held.info.run_id).info.status == RunStatus.KILLED,
    )
    (tmp_path / "markers" / "release").touch()  # now only the reruns can see it
    result = sweep.join()

    trials = trials_by_x(uri, result.sweep_id)
    statuses = {x: [r.info.status for r in runs] for x, runs in trials.items()}
    assert statuses == {
        0: [RunStatus.FINISHED],
        -1: [RunStatus.KILLED, RunStatus.FINISHED],
        -2: [RunStatus.KILLED, RunStatus.FINISHED],
        3: [RunStatus.FINISHED],
    }
    for lost, rerun in (trials[-1], trials[-2]):
        assert "run again as a new trial" in lost.data.tags[T.TRIAL_ABANDONED]
        assert rerun.data.tags[T.TRIAL_RERUN_OF] == lost.data.tags[T.TRIAL_NUMBER]
        assert rerun.data.params == lost.data.params
        assert rerun.data.metrics["score"] == float(lost.data.params["x"])
    assert result.counts["finished"] == 4
    assert result.counts["killed"] == 2
    assert result.stopped_because == "budget"


def test_sweep_status_shows_how_long_a_running_trial_has_run(
    tmp_path: Path, run_tunetrack: Callable[..., Any]
) -> None:
    """A RUNNING trial's ``elapsed`` counts from when its process started it (the
    ``tunetrack.trial.started`` tag), shown against the sweep's trial_timeout."""
    path = write_sweep(tmp_path, "held", [0, -1, 2], budget={"trial_timeout": "5m"})
    uri = f"sqlite:///{tmp_path}/t.db"
    sweep = SweepThread(path, uri)
    try:
        held = wait_for("trial x=-1 to run", lambda: sweep.running(-1))
        sweep_id = held.data.tags[T.SWEEP_ID]
        before = time.time_ns() // 1_000_000
        shown = run_tunetrack("sweep", "status", sweep_id, "--tracking-uri", uri, cwd=tmp_path)
        as_json = run_tunetrack(
            "sweep", "status", sweep_id, "--tracking-uri", uri, "--json", cwd=tmp_path
        )
        after = time.time_ns() // 1_000_000
    finally:
        (tmp_path / "markers" / "release").touch()
        sweep.join()
    assert shown.returncode == 0, shown.stderr
    [row] = [line for line in shown.stdout.splitlines() if line.split()[2:3] == ["RUNNING"]]
    assert row.split()[0] == held.data.tags[T.TRIAL_NUMBER]
    assert " of 5m" in row, shown.stdout
    [record] = [t for t in json.loads(as_json.stdout)["trials"] if t["status"] == "RUNNING"]
    started = int(held.data.tags[T.TRIAL_STARTED])
    assert before - started <= record["elapsed"] <= after - started
    assert record["duration"] is None  # not over yet
