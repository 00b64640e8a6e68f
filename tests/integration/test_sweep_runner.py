"""Sweep runner end to end: real SQLite stores, real worker processes, real objectives.

Every sweep file is written into ``tmp_path`` next to a copy of
``tests/sweeps_data/objectives.py`` and run through :func:`run_sweep`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunetrack.entities import Run, RunStatus, ViewType
from tunetrack.errors import ConfigError, InvalidInput
from tunetrack.store.uri import open_artifacts
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.results import SweepResult
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.worker import ERROR_TAG
from tunetrack.tracking.client import Client

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "objectives.py"

X = {"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}}
XK = {**X, "k": {"distribution": "int", "min": 0, "max": 5}}
NEEDS_RAY = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="backend ray needs ray, which is not installed (pip install 'tunetrack[ray]')",
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)


def write_sweep(tmp_path: Path, objective: str, **fields: Any) -> Path:
    """A sweep file in ``tmp_path/sweep`` (beside a copy of the objectives) maximising
    ``score`` with ``random`` over ``X``, 2 trials, sequentially, unless ``fields`` say."""
    folder = tmp_path / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBJECTIVES, folder / "objectives.py")
    data = {
        "name": objective,
        "objective": f"objectives.py:{objective}",
        "metric": {"name": "score", "goal": "maximize"},
        "method": "random",
        "parameters": X,
        "budget": {"trials": 2},
        "parallel": {"n_jobs": 1},
        **fields,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def records(uri: str, sweep_id: str) -> tuple[Client, Run, list[Run]]:
    """A client, the sweep's parent run and its trial runs (which are all its children)."""
    client = Client(uri)
    parent = client.get_run(sweep_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"attributes.parent_run_id = '{parent.info.run_id}'"
    )
    trials = trial_runs(client, parent)
    assert {r.info.run_id for r in children} == {r.info.run_id for r in trials}
    return client, parent, trials


def sweep(
    tmp_path: Path, objective: str, overrides: tuple[str, ...] = (), **fields: Any
) -> tuple[SweepResult, Client, Run, list[Run]]:
    """Run a sweep (see write_sweep); return the result, a client, the parent, its trials."""
    uri = f"sqlite:///{tmp_path}/t.db"
    config = load_sweep_config(write_sweep(tmp_path, objective, **fields), overrides)
    result = run_sweep(config, tracking_uri=uri, overrides=overrides, progress=False)
    return (result, *records(uri, result.sweep_id))


def artifact(run: Run, name: str) -> str:
    return open_artifacts(run.info.artifact_uri).read_bytes(name).decode()


def statuses(trials: list[Run]) -> list[RunStatus]:
    return [r.info.status for r in trials]


def numbers(trials: list[Run]) -> list[int]:
    return [int(r.data.tags[T.TRIAL_NUMBER]) for r in trials]


def check_complete_sweep(client: Client, parent: Run, trials: list[Run], n: int) -> None:
    """1 parent + ``n`` FINISHED children, fully recorded, with the parent's summary."""
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.tags[T.RUN_TYPE] == "sweep"
    assert len(trials) == n
    assert sorted(numbers(trials)) == list(range(n))
    for run in trials:
        assert run.info.status == RunStatus.FINISHED
        assert run.info.parent_run_id == parent.info.run_id
        assert run.data.tags[T.SWEEP_ID] == parent.info.run_id
        params = json.loads(run.data.tags[T.TRIAL_PARAMS])
        assert set(params) == {"x", "k"}
        assert run.data.params == {k: str(v) for k, v in params.items()}
        assert isinstance(params["k"], int)
        assert 0 <= params["k"] <= 5
        expected = -((params["x"] - 0.3) ** 2) - 0.01 * params["k"]
        assert run.data.metrics["score"] == pytest.approx(expected)
        assert run.data.metrics["retrain_mode"] == 0.0

    names = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.yaml", "space.json", "trials.csv", "charts"} <= names
    charts = {f.path for f in client.list_artifacts(parent.info.run_id, "charts")}
    assert "charts/optimization_history.html" in charts
    assert "objectives.py:quadratic" in artifact(parent, "sweep.yaml")
    space = json.loads(artifact(parent, "space.json"))
    assert [p["name"] for p in space["parameters"]] == ["x", "k"]
    rows = list(csv.DictReader(io.StringIO(artifact(parent, "trials.csv"))))
    assert len(rows) == n
    assert sorted(int(r["number"]) for r in rows) == list(range(n))
    assert {r["run_id"] for r in rows} == {r.info.run_id for r in trials}
    assert {r["status"] for r in rows} == {"FINISHED"}

    best = max(trials, key=lambda r: r.data.metrics["score"])
    assert parent.data.metrics["trials_finished"] == n
    assert parent.data.metrics["best_score"] == best.data.metrics["score"]
    assert parent.data.tags[T.BEST_RUN] == best.info.run_id
    assert json.loads(parent.data.tags[T.BEST_PARAMS]) == json.loads(best.data.tags[T.TRIAL_PARAMS])


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_parallel_sweep_records_parent_and_complete_children(tmp_path: Path, backend: str) -> None:
    result, client, parent, trials = sweep(
        tmp_path,
        "quadratic",
        method="tpe",
        parameters=XK,
        budget={"trials": 6},
        parallel={"n_jobs": 2, "backend": backend},
        seed=11,
    )
    check_complete_sweep(client, parent, trials, 6)
    assert result.stopped_because == "budget"
    assert result.counts["finished"] == 6
    assert result.best_run_id == parent.data.tags[T.BEST_RUN]
    assert sorted(t.number for t in result.results) == list(range(6))
    assert parent.data.params["parallel.backend"] == backend


def test_threading_sweep_of_many_quick_trials_counts_every_trial_exactly_once(
    tmp_path: Path,
) -> None:
    """Results are counted in the main thread while joblib's callback thread asks for and
    registers the next trials: with threads switching as often as possible, no update of
    the shared counters, in-flight set or best value is lost."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        result, _, parent, trials = sweep(
            tmp_path,
            "fail_on_bad",
            method="grid",
            parameters={"kind": {"values": ["good", "bad"]}, "x": {"values": list(range(40))}},
            budget={"trials": 80},
            parallel={"n_jobs": 4, "backend": "threading"},
        )
    finally:
        sys.setswitchinterval(previous)
    assert result.counts == {"finished": 40, "pruned": 0, "failed": 40, "killed": 0}
    assert sorted(t.number for t in result.results) == list(range(80))
    assert sorted(numbers(trials)) == list(range(80))
    by_kind = {
        kind: {r.info.status for r in trials if r.data.params["kind"] == kind}
        for kind in ("good", "bad")
    }
    assert by_kind == {"good": {RunStatus.FINISHED}, "bad": {RunStatus.FAILED}}
    assert parent.data.metrics["trials_finished"] == 40
    assert parent.data.metrics["trials_failed"] == 40
    assert result.best_value == 39.0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["dask", pytest.param("ray", marks=NEEDS_RAY)])
def test_local_cluster_sweep(tmp_path: Path, backend: str) -> None:
    """A Dask or Ray cluster started on this machine for the sweep, and stopped after it."""
    result, client, parent, trials = sweep(
        tmp_path,
        "quadratic",
        parameters=XK,
        budget={"trials": 4},
        parallel={"n_jobs": 2, "backend": backend},
        seed=5,
    )
    check_complete_sweep(client, parent, trials, 4)
    assert result.stopped_because == "budget"
    workers = {run.data.tags[T.TRIAL_WORKER] for run in trials}  # "<host> pid <pid>"
    assert {w.rpartition(" pid ")[0] for w in workers} == {socket.gethostname()}
    assert str(os.getpid()) not in {w.rpartition(" pid ")[2] for w in workers}
    if backend == "ray":
        import ray

        assert not ray.is_initialized()  # the sweep's own Ray session ended with it


@pytest.mark.parametrize("method", ["tpe", "random"])
def test_same_seed_sequential_gives_same_params(tmp_path: Path, method: str) -> None:
    def params_by_number(seed: int, folder: str) -> dict[int, dict]:
        _, _, _, trials = sweep(
            tmp_path / folder,
            "quadratic",
            method=method,
            parameters=XK,
            budget={"trials": 12},
            seed=seed,
        )
        return {
            int(r.data.tags[T.TRIAL_NUMBER]): json.loads(r.data.tags[T.TRIAL_PARAMS])
            for r in trials
        }

    first, second = params_by_number(7, "a"), params_by_number(7, "b")
    assert sorted(first) == list(range(12))
    assert first == second
    assert params_by_number(8, "c") != first  # the seed matters


@pytest.mark.parametrize(
    ("n_jobs", "backend"), [(1, "sequential"), (2, "loky"), pytest.param(2, "ray", marks=NEEDS_RAY)]
)
def test_median_pruning_stops_bad_trials(tmp_path: Path, n_jobs: int, backend: str) -> None:
    result, client, parent, trials = sweep(
        tmp_path,
        "stepwise",
        method="grid",
        parameters={"x": {"values": [0.9, 0.8, 0.85, 0.1, 0.2, 0.05, 0.95, 0.15]}},
        budget={"trials": 8},
        parallel={"n_jobs": n_jobs, "backend": backend},
        early_terminate={"type": "median", "min_steps": 3, "min_trials": 3},
    )
    assert len(trials) == 8
    pruned = [r for r in trials if r.info.status == RunStatus.PRUNED]
    complete = [r for r in trials if r.info.status == RunStatus.FINISHED]
    assert pruned
    assert complete
    assert len(pruned) + len(complete) == 8
    pruned_xs = {json.loads(r.data.tags[T.TRIAL_PARAMS])["x"] for r in pruned}
    if n_jobs == 1:  # after 0.9, 0.8, 0.85 complete, every low x is below their median
        assert pruned_xs == {0.1, 0.2, 0.05, 0.15}
    else:  # which trials overlap depends on timing, but nothing beats the top two
        assert not pruned_xs & {0.9, 0.95}

    def steps(run: Run) -> set[int]:
        return {m.step for m in client.get_metric_history(run.info.run_id, "score")}

    for run in complete:
        assert steps(run) == set(range(20))
        assert run.data.metrics["score"] == pytest.approx(
            json.loads(run.data.tags[T.TRIAL_PARAMS])["x"] + 0.02
        )
    for run in pruned:
        assert 3 <= len(steps(run)) < 20
        assert "score" in run.data.metrics  # the last reported value
    assert result.counts["pruned"] == len(pruned)
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.metrics["trials_pruned"] == len(pruned)


def test_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    result, _, parent, trials = sweep(
        tmp_path,
        "fail_on_bad",
        method="grid",
        parameters={"kind": {"values": ["good", "bad"]}, "x": {"values": [1, 2, 3]}},
        budget={"trials": 50},
        parallel={"n_jobs": 2, "backend": "loky"},
    )
    assert result.stopped_because == "exhausted"
    assert parent.info.status == RunStatus.FINISHED
    assert len(trials) == 6
    for run in trials:
        kind = json.loads(run.data.tags[T.TRIAL_PARAMS])["kind"]
        if kind == "good":
            assert run.info.status == RunStatus.FINISHED
            assert ERROR_TAG not in run.data.tags
        else:
            assert run.info.status == RunStatus.FAILED
            assert "ValueError" in run.data.tags[ERROR_TAG]
            assert "is not supported" in run.data.tags[ERROR_TAG]
            text = artifact(run, "traceback.txt")
            assert "Traceback" in text
            assert "ValueError: kind 'bad' is not supported" in text
    assert parent.data.metrics["trials_failed"] == 3
    assert parent.data.metrics["best_score"] == 3.0


def test_max_failures_stops_the_sweep(tmp_path: Path) -> None:
    result, _, parent, trials = sweep(
        tmp_path, "always_fail", budget={"trials": 10, "max_failures": 2}
    )
    assert result.stopped_because == "max_failures"
    assert statuses(trials) == [RunStatus.FAILED, RunStatus.FAILED]
    assert parent.info.status == RunStatus.FINISHED
    assert T.BEST_RUN not in parent.data.tags


def test_target_stops_early(tmp_path: Path) -> None:
    result, _, _, trials = sweep(
        tmp_path,
        "plain",
        method="grid",
        parameters={"x": {"values": [0.1, 0.5, 0.9, 0.2, 0.3, 0.4]}},
        budget={"trials": 6, "target": 0.8},
    )
    assert result.stopped_because == "target"
    assert len(trials) == 3
    assert result.best_value == 0.9


def test_timeout_stops(tmp_path: Path) -> None:
    result, _, parent, trials = sweep(
        tmp_path,
        "sleepy",
        parameters={**X, "delay": 0.2},
        budget={"trials": 1000, "timeout": "1s"},
    )
    assert result.stopped_because == "timeout"
    assert len(trials) < 1000
    assert set(statuses(trials)) <= {RunStatus.FINISHED}  # in-flight trials end normally
    assert parent.info.status == RunStatus.FINISHED


def test_grid_exhausts_with_exactly_its_points(tmp_path: Path) -> None:
    result, _, _, trials = sweep(
        tmp_path,
        "quadratic",
        method="grid",
        parameters={"x": {"values": [0.1, 0.3, 0.5]}, "k": {"values": [0, 4]}},
        budget={"trials": 100},
        parallel={"n_jobs": 2, "backend": "loky"},
    )
    assert result.stopped_because == "exhausted"
    params = [json.loads(r.data.tags[T.TRIAL_PARAMS]) for r in trials]
    points = sorted((p["x"], p["k"]) for p in params)
    assert points == [(x, k) for x in (0.1, 0.3, 0.5) for k in (0, 4)]
    assert set(statuses(trials)) == {RunStatus.FINISHED}


@pytest.mark.parametrize(
    ("function", "error"),
    [("missing_metric", "has no 'score'"), ("nan_metric", "NaN")],
)
def test_bad_return_values_fail_the_trial(tmp_path: Path, function: str, error: str) -> None:
    result, _, parent, trials = sweep(tmp_path, function)
    assert statuses(trials) == [RunStatus.FAILED, RunStatus.FAILED]
    for run in trials:
        assert error in run.data.tags[ERROR_TAG]
    assert result.counts["failed"] == 2
    assert parent.info.status == RunStatus.FINISHED
    assert "best_score" not in parent.data.metrics


def test_multi_objective_nsga2(tmp_path: Path) -> None:
    _, client, parent, trials = sweep(
        tmp_path,
        "two_metrics",
        metric=[{"name": "acc", "goal": "maximize"}, {"name": "cost", "goal": "minimize"}],
        method="nsga2",
        budget={"trials": 6},
        parallel={"n_jobs": 2, "backend": "threading"},
        seed=3,
    )
    assert len(trials) == 6
    assert set(statuses(trials)) == {RunStatus.FINISHED}
    for run in trials:
        x = json.loads(run.data.tags[T.TRIAL_PARAMS])["x"]
        assert run.data.metrics["acc"] == pytest.approx(1.0 - math.exp(-3.0 * x))
        assert run.data.metrics["cost"] == pytest.approx(x * x)
    charts = {f.path for f in client.list_artifacts(parent.info.run_id, "charts")}
    assert "charts/pareto_front.html" in charts
    goals = json.loads(parent.data.tags[T.SWEEP_GOALS])
    assert goals == [["acc", "maximize"], ["cost", "minimize"]]
    assert parent.data.metrics["best_acc"] == max(r.data.metrics["acc"] for r in trials)


def test_set_override_of_budget_trials_applies(tmp_path: Path) -> None:
    result, _, parent, trials = sweep(
        tmp_path, "quadratic", ("budget.trials=3",), parameters=XK, budget={"trials": 9}
    )
    assert len(trials) == 3
    assert result.stopped_because == "budget"
    assert parent.data.params["budget.trials"] == "3"
    assert json.loads(parent.data.tags[T.SWEEP_OVERRIDES]) == ["budget.trials=3"]


def test_invalid_set_override_is_a_config_error(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "quadratic", parameters=XK)
    with pytest.raises(ConfigError, match=r"--set budget\.trials=0: budget\.trials: must be >= 1"):
        load_sweep_config(path, ["budget.trials=0"])
    with pytest.raises(ConfigError, match=r"parallel\.n_jobs"):
        load_sweep_config(path, ["parallel.n_jobs=0"])


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_fluent_logging_in_objective_reaches_the_sweep_store(tmp_path: Path, backend: str) -> None:
    import tunetrack

    tunetrack.set_tracking_uri(f"sqlite:///{tmp_path}/elsewhere.db")  # not the sweep's store
    try:
        _, _, _, trials = sweep(tmp_path, "fluent_tag", parallel={"n_jobs": 2, "backend": backend})
    finally:
        tunetrack.set_tracking_uri(None)
    assert statuses(trials) == [RunStatus.FINISHED, RunStatus.FINISHED]
    for run in trials:
        assert run.data.tags["objective.mode"] == "train"
        assert "fluent_metric" in run.data.metrics


def test_system_metrics_cover_the_whole_sweep_on_its_parent_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from tunetrack.tracking import system_metrics as sm

    monkeypatch.setenv(sm.ENABLE_ENV, "1")
    monkeypatch.setenv(sm.INTERVAL_ENV, "0.2")
    _, client, parent, trials = sweep(
        tmp_path, "sleepy", parameters={**X, "delay": 0.4}, budget={"trials": 3}
    )
    history = client.get_metric_history(parent.info.run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 3
    assert [m.step for m in history] == list(range(len(history)))
    assert all(0.0 <= m.value <= 100.0 for m in history)
    for run in trials:  # the parent speaks for the machine; trials keep their own metrics
        assert not any(key.startswith("system/") for key in run.data.metrics)
    assert not any(t.name == sm.THREAD_NAME for t in threading.enumerate())


MEMORY_URI = "sqlite:///:memory:"


@pytest.mark.parametrize(("backend", "n_jobs"), [("loky", 2), ("dask", 2)])
def test_an_in_memory_store_with_process_workers_is_refused_up_front(
    tmp_path: Path, backend: str, n_jobs: int
) -> None:
    parallel = {"n_jobs": n_jobs, "backend": backend}
    config = load_sweep_config(write_sweep(tmp_path, "plain", parallel=parallel))
    with pytest.raises(ConfigError, match=rf"backend {backend} .*in-memory.*threading"):
        run_sweep(config, tracking_uri=MEMORY_URI, progress=False)


@pytest.mark.parametrize(("backend", "n_jobs"), [("threading", 2), ("sequential", 1), ("loky", 1)])
def test_an_in_memory_store_runs_a_sweep_whose_trials_stay_in_this_process(
    tmp_path: Path, backend: str, n_jobs: int
) -> None:
    parallel = {"n_jobs": n_jobs, "backend": backend}
    config = load_sweep_config(write_sweep(tmp_path, "plain", parallel=parallel))
    result = run_sweep(config, tracking_uri=MEMORY_URI, progress=False)
    assert result.counts["finished"] == 2


def test_sweep_run_with_an_in_memory_store_and_loky_is_one_error_line(
    tmp_path: Path, run_tunetrack
) -> None:
    path = write_sweep(tmp_path, "plain", parallel={"n_jobs": 2, "backend": "loky"})
    done = run_tunetrack("sweep", "run", str(path), "--tracking-uri", MEMORY_URI, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "in-memory" in done.stderr


def sweep_parent(uri: str, experiment: str) -> Run:
    """The one sweep (parent run) of ``experiment``, deleted or not."""
    client = Client(uri)
    [found] = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name == experiment]
    [parent] = client.search_runs(
        [found.experiment_id], f"tags.`{T.RUN_TYPE}` = 'sweep'", run_view_type=ViewType.ALL
    )
    return parent


def test_an_orchestrator_error_fails_the_sweep_with_the_reason_in_a_tag(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    path = write_sweep(tmp_path, "replaces_sweep_artifacts", budget={"trials": 3})
    with pytest.raises(OSError, match="tunetrack-artifacts") as raised:  # no summary written
        run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    parent = sweep_parent(uri, "replaces_sweep_artifacts")
    assert parent.info.status == RunStatus.FAILED
    reason = parent.data.tags["tunetrack.sweep.error"]
    assert reason.startswith(f"{type(raised.value).__name__}: ")
    assert "\n" not in reason
    trials = trial_runs(Client(uri), parent)
    assert statuses(trials) == [RunStatus.FINISHED] * 3


def test_deleting_the_experiment_mid_sweep_fails_the_sweep_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    path = write_sweep(tmp_path, "deletes_its_experiment", budget={"trials": 3})
    with pytest.raises(InvalidInput, match=r"experiment .* is deleted"):
        run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    parent = sweep_parent(uri, "deletes_its_experiment")
    assert parent.info.status == RunStatus.FAILED
    client = Client(uri)
    [trial] = client.search_runs(
        [parent.info.experiment_id],
        f"attributes.parent_run_id = '{parent.info.run_id}'",
        run_view_type=ViewType.ALL,
    )
    assert trial.info.status == RunStatus.FAILED  # its result could not be recorded


def test_by_default_failures_stop_a_sweep_only_before_any_trial_succeeded(tmp_path: Path) -> None:
    result, _, parent, trials = sweep(tmp_path / "broken", "always_fail", budget={"trials": 20})
    assert result.stopped_because == "max_failures"
    assert statuses(trials) == [RunStatus.FAILED] * 5
    assert "5 trials failed" in parent.data.tags["tunetrack.sweep.stopped"]
    assert "budget.max_failures" in parent.data.tags["tunetrack.sweep.stopped"]

    result, _, _, trials = sweep(  # 6 good trials, then 6 bad ones: the objective works
        tmp_path / "mixed",
        "fail_on_bad",
        method="grid",
        parameters={"kind": {"values": ["good", "bad"]}, "x": {"values": [1, 2, 3, 4, 5, 6]}},
        budget={"trials": 50},
    )
    assert result.stopped_because == "exhausted"
    assert statuses(trials).count(RunStatus.FAILED) == 6

    result, _, _, trials = sweep(
        tmp_path / "unlimited", "always_fail", budget={"trials": 7, "max_failures": None}
    )
    assert result.stopped_because == "budget"
    assert len(trials) == 7


def test_the_progress_line_names_the_sweep_and_fits_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    config = load_sweep_config(write_sweep(tmp_path, "plain", budget={"trials": 3}))
    result = run_sweep(config, tracking_uri=f"sqlite:///{tmp_path}/t.db", progress=True)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert result.sweep_id[:8] in line
    assert "3/3" in line
    assert f"best {result.best_value:.6g}" in line


def test_sweep_runs_carry_the_git_and_system_context_of_the_sweep_file(tmp_path: Path) -> None:
    import socket
    import subprocess

    from tunetrack.tracking import context as C

    path = write_sweep(tmp_path, "quadratic", parameters=XK, retrain={"enabled": True})
    repo = path.parent

    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
        cmd += ["-c", "commit.gpgsign=false", *args]
        return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout

    git("init", "-q", "-b", "tuning")
    git("add", ".")
    git("commit", "-q", "-m", "the sweep")
    (repo / "objectives.py").write_text((repo / "objectives.py").read_text() + "\n# edited\n")
    commit = git("rev-parse", "HEAD").strip()
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    client = Client(uri)
    parent = client.get_run(result.sweep_id)
    assert result.retrain_run_id is not None
    runs = [parent, *trial_runs(client, parent), client.get_run(result.retrain_run_id)]
    assert len(runs) == 4
    for run in runs:
        tags = run.data.tags
        assert tags[C.GIT_COMMIT] == commit, run.data.tags.get(T.RUN_TYPE)
        assert tags[C.GIT_BRANCH] == "tuning"
        assert tags[C.GIT_DIRTY] == "true"  # objectives.py was edited after the commit
        assert tags[C.USER] == C.current_user()
        assert tags[C.HOST] == socket.gethostname()
        assert tags[C.SOURCE_NAME] == str(path.resolve())
        assert "tunetrack" in json.loads(tags[C.VERSIONS])
