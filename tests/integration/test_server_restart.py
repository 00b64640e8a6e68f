"""A sweep survives its tracking server: while a sweep with two loky workers logs into a
``tunetrack server`` through RestStore, the server process is killed (SIGKILL) and
restarted on the same port twice, or the answers to some of its requests are lost after
the server carried them out. The sweep completes, no run is created twice, and every
trial's metric history is exact."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from answer_proxy import AnswerDropper
from tunetrack.entities import RunStatus
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer

pytestmark = pytest.mark.slow

CLI = "from tunetrack.cli import main; main()"
TRIALS = 8
POINTS = 200  # step metric points per trial, through the batched writer

OBJECTIVE = f"""\
import os
import time
from pathlib import Path

import tunetrack


def train(params, trial):
    Path(os.environ["TT_SWEEP_MARKERS"], str(trial.number)).touch()
    tunetrack.log_param("trial_number", trial.number)
    for step in range({POINTS}):
        tunetrack.log_metric("loss", params["x"] / (step + 1), step=step)
        if step % 20 == 19:
            time.sleep(0.05)  # a training loop: points keep coming while the server is down
    return {{"score": -((params["x"] - 0.3) ** 2)}}
"""

SWEEP = f"""\
name: restart
experiment: server-restart
objective: objectives.py:train
metric: {{name: score, goal: maximize}}
method: random
parameters:
  x: {{distribution: uniform, min: 0.0, max: 1.0}}
budget: {{trials: {TRIALS}}}
parallel: {{n_jobs: 2, backend: loky}}
retrain: {{enabled: true}}
seed: 5
"""


def _start_sweep(tmp_path: Path, url: str) -> tuple[subprocess.Popen[bytes], Path]:
    """The CLI running SWEEP against ``url``, in its own process; its stderr's file."""
    folder = tmp_path / "sweep"
    (tmp_path / "markers").mkdir()
    folder.mkdir()
    (folder / "objectives.py").write_text(OBJECTIVE)
    (folder / "sweep.yaml").write_text(SWEEP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env |= {"TUNETRACK_TRACKING_URI": url, "TT_SWEEP_MARKERS": str(tmp_path / "markers")}
    out, err = tmp_path / "sweep.out", tmp_path / "sweep.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        sweep = subprocess.Popen(
            [sys.executable, "-c", CLI, "sweep", "run", "sweep.yaml", "--json", "--no-progress"],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=folder,
        )
    return sweep, err


@contextlib.contextmanager
def _ended(sweep: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill the sweep if the test leaves before it ended."""
    try:
        yield
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()


def _wait_for_trial(tmp_path: Path, number: int, sweep: subprocess.Popen[bytes]) -> None:
    """Wait until trial ``number`` has started (its objective touched its marker)."""
    deadline = time.monotonic() + 300
    while not (tmp_path / "markers" / str(number)).exists():
        if sweep.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"trial {number} never started:\n{(tmp_path / 'sweep.err').read_text()}")
        time.sleep(0.02)


def _check_sweep(url: str, tmp_path: Path) -> None:
    """The sweep the CLI reported finished completely, each run once, every point once."""
    result = json.loads((tmp_path / "sweep.out").read_text())
    assert result["counts"]["finished"] == TRIALS, result
    client = Client(url)
    parent = client.get_run(result["sweep_id"])
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.metrics["trials_finished"] == TRIALS
    trials = trial_runs(client, parent)
    assert sorted(int(run.data.params["trial_number"]) for run in trials) == list(range(TRIALS))
    # no run was created twice: the experiment holds the sweep, its trials and the retrain
    every_run = client.search_runs([parent.info.experiment_id], max_results=100)
    assert len(every_run) == 1 + TRIALS + 1
    retrained = client.get_run(result["retrain_run_id"])
    for run in [*trials, retrained]:
        assert run.info.status == RunStatus.FINISHED
        assert run.info.parent_run_id == parent.info.run_id
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(POINTS)), run.info.run_id
        assert [m.step for m in client.get_metric_history(run.info.run_id, "score")] == [0]
    assert "trials.csv" in [a.path for a in client.list_artifacts(parent.info.run_id)]
    client.close()


def test_a_sweep_completes_with_exact_point_counts_when_its_server_is_killed_and_restarted(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    sweep, err = _start_sweep(tmp_path, server.url)
    with _ended(sweep):
        for number in (2, 5):  # twice: while trials log, and while others are created
            _wait_for_trial(tmp_path, number, sweep)
            server.kill()
            time.sleep(1.0)  # down for a while: requests fail, points pile up
            server = tracking_server(port=server.port)
        assert sweep.wait(timeout=600) == 0, err.read_text() + server.output()
    _check_sweep(server.url, tmp_path)


def test_a_sweep_completes_exactly_when_answers_to_its_requests_are_lost(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server()
    proxy = AnswerDropper(server.port, nth=5)
    sweep, err = _start_sweep(tmp_path, proxy.url)
    with _ended(sweep):
        assert sweep.wait(timeout=600) == 0, err.read_text()
    proxy.close()
    lost = {
        "POST /api/experiments/create",
        "POST /api/runs/create",
        "POST /api/runs/update",
        "POST /api/runs/log-batch",  # params and tags
        "POST /api/runs/log-batch metrics",  # the sweep's summary
        "POST /api/metrics/log-rows",
        "PUT /api/artifacts",
    }
    assert lost <= set(proxy.dropped)
    _check_sweep(server.url, tmp_path)
