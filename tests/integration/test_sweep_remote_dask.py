"""A sweep on a Dask cluster whose workers share nothing with the orchestrator but the network.

A ``dask scheduler`` and two ``dask worker`` processes (the dask CLI, each in an empty
directory of its own) and a ``tunetrack server`` over a PostgreSQL database (the
experiment's artifact root is its proxy). The tracking store is either that database or
the server itself. The objective's file is deleted once the sweep file is read: the workers
run the source sent with each trial, report to and prune through the optuna study (in the
database, or served by the server when it is the store: workers then know only its URL),
record their runs and upload their models through the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import yaml

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import ConfigError
from tunetrack.sweep import ledger
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "model_objectives.py"
# learning rates, in grid order: BAD stays at the prior. The GOOD two run first, while fewer
# than min_trials trials have finished, so whatever the order of completion only BAD ones
# are pruned, and at least the last three (each starts once two or more have finished,
# one of them GOOD, so the median is above the prior)
GOOD, BAD = [0.1, 0.2], [1e-5, 2e-5, 3e-5, 4e-5]
STARTUP_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dask(*args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """The venv's ``dask`` CLI in ``cwd``, without the test's TUNETRACK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env["TUNETRACK_AUTOLOG_TESTING"] = "true"  # an autolog error fails the trial, visibly
    cwd.mkdir(parents=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("dask")), *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop the dask processes, workers before the scheduler."""
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, set[int], list[Path]]]:
    """A scheduler and two single-thread workers: the address, the workers' process ids
    and their working directories."""
    from distributed import Client as DaskClient

    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = [
        _dask(
            "scheduler", "--host", "127.0.0.1", "--port", address.rpartition(":")[2],
            "--no-dashboard",
            cwd=tmp_path / "scheduler", log=logs / "scheduler.log",
        )
    ]  # fmt: skip
    dirs = [tmp_path / f"worker{i}" for i in range(2)]
    try:
        for i, cwd in enumerate(dirs):
            procs.append(
                _dask(
                    "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                    cwd=cwd, log=logs / f"worker{i}.log",
                )
            )  # fmt: skip
        with DaskClient(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(2, timeout=STARTUP_S)
            pids = set(client.run(os.getpid).values())
        yield address, pids, dirs
    finally:
        _stop(procs)


def _worker_pid(run: Run) -> int:
    host, _, pid = run.data.tags[T.TRIAL_WORKER].rpartition(" pid ")
    assert host == socket.gethostname()
    return int(pid)


@pytest.mark.parametrize("store", ["postgresql", "server"])
def test_a_pruned_sweep_runs_on_dask_workers_that_share_only_the_network(
    store: str,
    tmp_path: Path,
    fresh_postgres_uri: str,
    tracking_server: StartServer,
    dask_cluster: tuple[str, set[int], list[Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, worker_pids, worker_dirs = dask_cluster
    server = tracking_server("--backend-store-uri", fresh_postgres_uri)
    uri = fresh_postgres_uri if store == "postgresql" else server.url
    client = Client(uri)
    proxy = f"{server.url}/api/artifacts"
    client.create_experiment("remote", artifact_location=f"{proxy}/remote")

    here = tmp_path / "orchestrator"
    (here / "code").mkdir(parents=True)
    monkeypatch.chdir(here)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)
    shutil.copy(OBJECTIVES, here / "code" / "model_objectives.py")
    spec = {
        "name": "remote-boosting",
        "experiment": "remote",
        "objective": "code/model_objectives.py:pruned_boosting",
        "metric": {"name": "accuracy", "goal": "maximize"},
        "method": "grid",
        "parameters": {"learning_rate": {"values": GOOD + BAD}, "stages": 4},
        "parallel": {"n_jobs": 2, "backend": "dask", "address": address},
        "early_terminate": {"type": "median", "min_steps": 1, "min_trials": 2},
        "autolog": {"log_models": True},
    }
    (here / "sweep.yaml").write_text(yaml.safe_dump(spec))
    config = load_sweep_config(here / "sweep.yaml")
    shutil.rmtree(here / "code")  # only the source read with the sweep file is left

    result = run_sweep(config, tracking_uri=uri, progress=False)

    assert result.counts["failed"] == 0, result.failures
    trials = trial_runs(client, client.get_run(result.sweep_id))
    assert len(trials) == 6
    assert {r.info.status for r in trials} <= {RunStatus.FINISHED, RunStatus.PRUNED}
    pruned = [r for r in trials if r.info.status == RunStatus.PRUNED]
    assert len(pruned) >= 3
    # every trial ran in a child of a dask worker, none in this process
    for run in trials:
        assert _worker_pid(run) in worker_pids
        assert int(run.data.tags[T.TRIAL_PID]) not in (os.getpid(), *worker_pids)
    assert {r.data.params["learning_rate"] for r in pruned} <= {str(x) for x in BAD}
    # autolog recorded every fit into PostgreSQL; the models went through the server
    for run in trials:
        assert run.data.params["loss"] == "log_loss"  # a get_params() value no one logged
        assert "training_accuracy" in run.data.metrics
        assert run.info.artifact_uri.startswith(f"{proxy}/remote/")
        on_disk = tmp_path / "server-artifacts" / "remote" / run.info.run_id
        assert (on_disk / "model" / "model.yaml").is_file()
    # the workers pruned through the study in PostgreSQL (its rows are gone with the sweep),
    # which the server kept for them when it was their store
    engine = sa.create_engine(fresh_postgres_uri)
    with contextlib.closing(engine.connect()) as conn:
        seq = f"{ledger.SCHEMA}.trial_intermediate_values_trial_intermediate_value_id_seq"
        reported = conn.execute(sa.text(f"SELECT last_value FROM {seq}")).scalar()
    engine.dispose()
    assert isinstance(reported, int)
    assert reported >= len(trials)
    # and kept nothing in their own directories, nor the orchestrator in its
    for folder in [*worker_dirs, here]:
        assert not list(folder.glob("**/tunetrack*")), folder
    client.close()


@pytest.fixture
def far_worker(tmp_path: Path) -> Iterator[str]:
    """A scheduler and one worker that says it is on another machine: it listens on
    127.0.0.1 but advertises 192.0.2.10 (TEST-NET-1, no address of this machine). The
    scheduler's address is returned once the worker has joined."""
    from distributed import Client as DaskClient

    address = f"tcp://127.0.0.1:{_free_port()}"
    port = _free_port()
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = [
        _dask(
            "scheduler", "--host", "127.0.0.1", "--port", address.rpartition(":")[2],
            "--no-dashboard", cwd=tmp_path / "scheduler", log=logs / "scheduler.log",
        ),
        _dask(
            "worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny",
            "--listen-address", f"tcp://127.0.0.1:{port}",
            "--contact-address", f"tcp://192.0.2.10:{port}",
            cwd=tmp_path / "far", log=logs / "far.log",
        ),
    ]  # fmt: skip
    try:
        with DaskClient(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(1, timeout=STARTUP_S)
        yield address
    finally:
        _stop(procs)


def test_workers_on_another_machine_are_not_given_this_machines_files(
    tmp_path: Path,
    fresh_postgres_uri: str,
    far_worker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SQLite store, or a PostgreSQL store whose artifacts go to a local folder, is refused
    before any trial runs: the far worker would write a database or files of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)
    shutil.copy(OBJECTIVES, tmp_path / "model_objectives.py")
    spec = {
        "name": "far",
        "experiment": "far",
        "objective": "model_objectives.py:pruned_boosting",
        "metric": {"name": "accuracy", "goal": "maximize"},
        "method": "grid",
        "parameters": {"learning_rate": {"values": GOOD}, "stages": 2},
        "parallel": {"n_jobs": 1, "backend": "dask", "address": far_worker},
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec))
    config = load_sweep_config(tmp_path / "sweep.yaml")
    sqlite_uri = f"sqlite:///{tmp_path}/here.db"
    for uri, says in [
        (sqlite_uri, "cannot open this machine's SQLite store"),
        (fresh_postgres_uri, "cannot write to this machine's artifact folder"),
    ]:
        with pytest.raises(ConfigError, match=r"^workers on 192\.0\.2\.10 ") as caught:
            run_sweep(config, tracking_uri=uri, progress=False)
        assert says in str(caught.value)
        client = Client(uri)
        (parent,) = client.search_runs([client.get_experiment_by_name("far").experiment_id])
        assert parent.info.status == RunStatus.FAILED  # and no trial was dispatched
        assert trial_runs(client, parent) == []
        client.close()
    assert not list((tmp_path / "far").iterdir())  # the worker wrote nothing
