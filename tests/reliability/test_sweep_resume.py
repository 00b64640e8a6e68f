"""Sweeps survive their orchestrator: SIGKILL or Ctrl-C mid-sweep, then ``resume_sweep``.

A sweep runs in a subprocess (in its own session, so SIGKILL takes its loky workers too)
on the test's SQLite file; its objective sleeps 0.3 s and touches a marker file when a
trial starts, so the test can kill it while a trial is surely in flight.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tunetrack.entities import LifecycleStage, Run, RunStatus, ViewType
from tunetrack.errors import Conflict
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.runner import _SweepRun, resume_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

pytestmark = pytest.mark.slow

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "objectives.py"
BUDGET = 12

SCRIPT = """
import signal
import sys

from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.runner import run_sweep

if __name__ == "__main__":  # Dask's local workers start by importing this module again
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if SIGINT was ignored
    try:
        run_sweep(load_sweep_config(sys.argv[1]), tracking_uri=sys.argv[2], progress=False)
    except KeyboardInterrupt:
        sys.exit(130)
"""


def write_sweep(
    tmp_path: Path, n_jobs: int, backend: str, delay: float = 0.3, objective: str = "sleepy"
) -> Path:
    folder = tmp_path / "sweep"
    folder.mkdir()
    shutil.copy(OBJECTIVES, folder / "objectives.py")
    (folder / "run.py").write_text(SCRIPT)
    path = folder / "sweep.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: resumable
            experiment: resume
            objective: objectives.py:{objective}
            metric: {{name: score, goal: maximize}}
            method: tpe
            parameters:
              x: {{distribution: uniform, min: 0.0, max: 1.0}}
              delay: {delay}
            budget: {{trials: {BUDGET}}}
            parallel: {{n_jobs: {n_jobs}, backend: {backend}}}
            seed: 1
            """
        )
    )
    return path


TUNETRACK = str(Path(sys.executable).with_name("tunetrack"))  # the CLI of this environment


class SweepProcess:
    """The sweep's orchestrator in a subprocess, and what the test sees of it in the store.

    It runs ``run.py`` (``run_sweep``), or with ``cli`` the command ``tunetrack sweep run``;
    ``env`` adds variables (``TT_HOLD_TRIAL`` for the ``held`` objective)."""

    def __init__(
        self,
        tmp_path: Path,
        uri: str,
        n_jobs: int,
        backend: str,
        delay: float,
        objective: str = "sleepy",
        cli: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.markers = tmp_path / "markers"
        self.markers.mkdir()
        path = write_sweep(tmp_path, n_jobs, backend, delay, objective)
        argv = [sys.executable, str(path.parent / "run.py"), str(path), uri]
        if cli:
            argv = [TUNETRACK, "sweep", "run", str(path), "--tracking-uri", uri, "--no-progress"]
        self.log = (tmp_path / "sweep.log").open("w")
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, "TT_SWEEP_MARKERS": str(self.markers), **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client: Client | None = None

    def started(self) -> set[int]:
        return {int(p.name) for p in self.markers.iterdir() if p.name.isdigit()}

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.proc.poll() is not None:
                code = self.proc.returncode
                pytest.fail(f"the sweep exited ({code}) before {what}:\n{self.output()}")
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-4000:]

    def parent(self) -> Run | None:
        if self.client is None:
            if not self.started():  # the orchestrator has made the database by now
                return None
            self.client = Client(self.uri)
        experiment = self.client.get_experiment_by_name("resume")
        if experiment is None:
            return None
        runs = self.client.search_runs([experiment.experiment_id], f"tags.`{T.RUN_TYPE}` = 'sweep'")
        return runs[0] if runs else None

    def in_flight_after(self, finished: int) -> tuple[Run, list[Run]] | None:
        """(parent, trials) once ``finished`` trials are FINISHED and a started one RUNS."""
        parent = self.parent()
        if parent is None:
            return None
        trials = trial_runs(self.client, parent)
        done = [r for r in trials if r.info.status == RunStatus.FINISHED]
        started = self.started()
        running = [
            r
            for r in trials
            if r.info.status == RunStatus.RUNNING and int(r.data.tags[T.TRIAL_NUMBER]) in started
        ]
        return (parent, trials) if len(done) >= finished and running else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture
def start_sweep(tmp_path: Path, tracking_uri: str):
    processes: list[SweepProcess] = []

    def start(n_jobs: int, backend: str, delay: float = 0.3, **options: Any) -> SweepProcess:
        """A sweep of BUDGET trials that sleep ``delay`` seconds each (``options``: see
        :class:`SweepProcess`)."""
        processes.append(SweepProcess(tmp_path, tracking_uri, n_jobs, backend, delay, **options))
        return processes[-1]

    yield start
    for process in processes:
        process.stop()


def by_status(trials: list[Run]) -> dict[RunStatus, list[Run]]:
    out: dict[RunStatus, list[Run]] = {}
    for run in trials:
        out.setdefault(run.info.status, []).append(run)
    return out


def numbers(trials: list[Run]) -> list[int]:
    return [int(r.data.tags[T.TRIAL_NUMBER]) for r in trials]


def check_resumed(client: Client, sweep_id: str, budget: int) -> list[Run]:
    """The sweep is FINISHED with ``budget`` counted trials and nothing left running.

    Counted: FINISHED and not abandoned. Every other trial was abandoned (by a dead
    worker or an interrupt) and says so in a tag.
    """
    parent = client.get_run(sweep_id)
    trials = trial_runs(client, parent)
    groups = by_status(trials)
    assert parent.info.status == RunStatus.FINISHED
    assert RunStatus.RUNNING not in groups
    assert len(set(numbers(trials))) == len(trials), numbers(trials)
    counted = [
        r
        for r in trials
        if r.info.status == RunStatus.FINISHED and T.TRIAL_ABANDONED not in r.data.tags
    ]
    assert len(counted) == budget
    counted_ids = {r.info.run_id for r in counted}
    for run in trials:
        if run.info.run_id in counted_ids:
            assert "score" in run.data.metrics
        else:
            assert T.TRIAL_ABANDONED in run.data.tags
    assert parent.data.metrics["trials_finished"] == len(groups[RunStatus.FINISHED])
    best = max(r.data.metrics["score"] for r in counted)
    assert parent.data.metrics["best_score"] == best
    assert client.get_run(parent.data.tags[T.BEST_RUN]).data.metrics["score"] == best
    return trials


@pytest.mark.parametrize(("n_jobs", "backend"), [(1, "sequential"), (2, "loky"), (2, "dask")])
def test_resume_after_sigkill_finishes_the_budget(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str, n_jobs: int, backend: str
) -> None:
    sweep = start_sweep(n_jobs, backend)
    parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    sweep.stop()  # SIGKILL: no cleanup at all
    client = Client(tracking_uri)
    sweep_id = parent.info.run_id
    before = trial_runs(client, client.get_run(sweep_id))
    orphans = {r.info.run_id for r in before if r.info.status == RunStatus.RUNNING}
    finished = {r.info.run_id for r in before if r.info.status == RunStatus.FINISHED}
    assert orphans
    assert len(finished) >= 3
    assert client.get_run(sweep_id).info.status == RunStatus.RUNNING

    # killed a moment ago, the orchestrator's last heartbeat is fresh: force says it is dead
    result = resume_sweep(sweep_id, tracking_uri=tracking_uri, progress=False, force=True)
    assert result.sweep_id == sweep_id
    assert result.stopped_because == "budget"
    trials = check_resumed(client, sweep_id, BUDGET)
    after = {r.info.run_id: r for r in trials}
    for run_id in orphans:
        assert after[run_id].info.status == RunStatus.FAILED
        assert after[run_id].data.tags[T.TRIAL_ABANDONED] == "orphaned"
    for run_id in finished:  # earlier results are kept, not rerun
        assert after[run_id].info.status == RunStatus.FINISHED
    assert len(trials) == BUDGET + len(orphans)

    # a second resume with a larger budget extends the sweep
    result = resume_sweep(
        sweep_id, tracking_uri=tracking_uri, overrides=["budget.trials=15"], progress=False
    )
    assert result.stopped_because == "budget"
    trials = check_resumed(client, sweep_id, 15)
    assert len(trials) == 15 + len(orphans)
    assert "budget.trials=15" in client.get_run(sweep_id).data.tags[T.SWEEP_OVERRIDES]


def test_resume_with_a_larger_budget_right_after_a_crash(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str
) -> None:
    sweep = start_sweep(1, "sequential")
    parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    sweep.stop()
    client = Client(tracking_uri)
    result = resume_sweep(
        parent.info.run_id, tracking_uri=tracking_uri, overrides=["budget.trials=15"],
        progress=False, force=True,
    )  # fmt: skip
    assert result.stopped_because == "budget"
    check_resumed(client, parent.info.run_id, 15)
    assert client.get_run(parent.info.run_id).data.params["budget.trials"] == str(BUDGET)


def ctrl_c(sweep: SweepProcess) -> tuple[str, dict[RunStatus, list[Run]]]:
    """Ctrl-C the sweep once 3 trials finished and one runs; check it exits 130 with its
    parent KILLED; return the sweep id and its trials by status."""
    parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    os.killpg(sweep.proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    assert sweep.proc.wait(timeout=120) == 130, sweep.output()
    client = Client(sweep.uri)
    sweep_id = parent.info.run_id
    assert client.get_run(sweep_id).info.status == RunStatus.KILLED
    return sweep_id, by_status(trial_runs(client, client.get_run(sweep_id)))


@pytest.mark.parametrize(("n_jobs", "backend"), [(1, "sequential"), (2, "loky"), (2, "threading")])
def test_ctrl_c_kills_in_flight_trials_and_resume_finishes(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str, n_jobs: int, backend: str
) -> None:
    sweep_id, groups = ctrl_c(start_sweep(n_jobs, backend))
    client = Client(tracking_uri)
    assert set(groups) <= {RunStatus.FINISHED, RunStatus.KILLED}
    killed = groups[RunStatus.KILLED]
    assert killed  # the trials in flight (see test_abandoning_keeps_a_trial_its_worker_finished)
    for run in killed:
        assert run.data.tags[T.TRIAL_ABANDONED] == "interrupted"
    if n_jobs == 1:
        assert len(killed) == 1
        assert len(groups[RunStatus.FINISHED]) >= 3
    else:  # two workers: a trial that finished just before the interrupt stays FINISHED
        assert sum("score" in r.data.metrics for g in groups.values() for r in g) >= 3

    result = resume_sweep(sweep_id, tracking_uri=tracking_uri, progress=False)
    assert result.stopped_because == "budget"
    trials = check_resumed(client, sweep_id, BUDGET)
    still_killed = by_status(trials)[RunStatus.KILLED]
    assert {r.info.run_id for r in still_killed} == {r.info.run_id for r in killed}


@pytest.mark.parametrize(("n_jobs", "backend"), [(1, "sequential"), (2, "loky")])
def test_ctrl_c_on_sweep_run_prints_the_counts_and_the_resume_command(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str, n_jobs: int, backend: str
) -> None:
    sweep = start_sweep(n_jobs, backend, cli=True)
    sweep_id, groups = ctrl_c(sweep)
    n = {status: len(groups.get(status, [])) for status in RunStatus}
    assert n[RunStatus.KILLED] >= 1
    out = sweep.output()
    counts = (
        f"{n[RunStatus.FINISHED]} finished, {n[RunStatus.PRUNED]} pruned, "
        f"{n[RunStatus.FAILED]} failed, {n[RunStatus.KILLED]} abandoned"
    )
    assert counts in out
    assert f"resume with: tunetrack sweep resume {sweep_id}" in out
    assert "Traceback" not in out


def all_trial_runs(client: Client, sweep_id: str) -> list[Run]:
    """Every trial run of the sweep, deleted ones included."""
    parent = client.get_run(sweep_id)
    return client.search_runs(
        [parent.info.experiment_id],
        f"attributes.parent_run_id = '{sweep_id}' and tags.`{T.RUN_TYPE}` = 'trial'",
        run_view_type=ViewType.ALL,
    )


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_deleting_a_running_trial_from_another_process_does_not_stop_the_sweep(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str, backend: str
) -> None:
    last = BUDGET - 1  # the highest number: a resume must not hand it out again
    sweep = start_sweep(
        2, backend, delay=0.1, objective="held", cli=True, env={"TT_HOLD_TRIAL": str(last)}
    )

    def held_trial() -> tuple[Run, Run] | None:
        parent = sweep.parent()
        if parent is None or last not in sweep.started():
            return None
        runs = {int(r.data.tags[T.TRIAL_NUMBER]): r for r in trial_runs(sweep.client, parent)}
        return parent, runs[last]  # it waits for the release file

    parent, victim = sweep.wait_for(f"trial {last} to start", held_trial)
    sweep_id, victim_id = parent.info.run_id, victim.info.run_id
    delete = [TUNETRACK, "runs", "delete", victim_id, "--tracking-uri", tracking_uri]
    deleted = subprocess.run(delete, capture_output=True, text=True, timeout=120)
    assert deleted.returncode == 0, deleted.stderr
    (sweep.markers / "release").touch()

    assert sweep.proc.wait(timeout=120) == 0, sweep.output()
    out = sweep.output()
    assert "deleted" in out
    assert f"trial {last}" in out  # the failure is reported with its trial and reason
    client = Client(tracking_uri)
    parent = client.get_run(sweep_id)
    assert parent.info.status == RunStatus.FINISHED
    assert sorted(numbers(all_trial_runs(client, sweep_id))) == list(range(BUDGET))
    gone = client.get_run(victim_id)
    assert gone.info.lifecycle_stage == LifecycleStage.DELETED
    assert gone.info.status == RunStatus.FAILED
    assert {r.info.status for r in trial_runs(client, parent)} == {RunStatus.FINISHED}
    assert parent.data.metrics["trials_finished"] == BUDGET - 1
    assert parent.data.metrics["trials_failed"] == 1

    resumed = cli_resume(tracking_uri, sweep_id, "--set", f"budget.trials={BUDGET + 2}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert sorted(numbers(all_trial_runs(client, sweep_id))) == list(range(BUDGET + 2))


def test_resume_does_not_repeat_earlier_params(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str
) -> None:
    sweep = start_sweep(1, "sequential")
    parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    sweep.stop()
    client = Client(tracking_uri)
    resume_sweep(parent.info.run_id, tracking_uri=tracking_uri, progress=False, force=True)
    trials = check_resumed(client, parent.info.run_id, BUDGET)
    xs = [r.data.params["x"] for r in trials if r.info.status == RunStatus.FINISHED]
    assert len(set(xs)) == len(xs), "x is continuous: a repeat means a replayed proposal"


def test_abandoning_keeps_a_trial_its_worker_finished(tmp_path: Path, tracking_uri: str) -> None:
    """Deterministic form of a race seen with Ctrl-C under threading/loky n_jobs=2: a worker
    ends its run FINISHED, then the interrupt arrives before the orchestrator reads the
    result (joblib hands results over after dispatching the next task)."""
    config = load_sweep_config(write_sweep(tmp_path, 2, "threading"))
    client = Client(tracking_uri)
    experiment_id = client.create_experiment("white-box")
    parent = client.create_run(experiment_id, tags={T.RUN_TYPE: "sweep"})
    orchestrator = _SweepRun(config, client, parent)
    try:
        done, running = orchestrator.strategy.ask(), orchestrator.strategy.ask()
        runs = {}
        for proposal in (done, running):
            run = client.create_run(experiment_id, parent_run_id=parent.info.run_id)
            runs[proposal.number] = orchestrator.in_flight[proposal.number] = run.info.run_id
        client.log_metric(runs[done.number], "score", -0.5)  # the worker's last writes
        client.set_terminated(runs[done.number], RunStatus.FINISHED)

        orchestrator._abandon_in_flight(RunStatus.KILLED, "interrupted")
    finally:
        orchestrator._tmp.cleanup()
    assert client.get_run(runs[running.number]).info.status == RunStatus.KILLED
    kept = client.get_run(runs[done.number])
    assert kept.info.status == RunStatus.FINISHED
    assert T.TRIAL_ABANDONED not in kept.data.tags


def cli_resume(uri: str, sweep_id: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``tunetrack sweep resume`` in a real process, to the end."""
    argv = [TUNETRACK, "sweep", "resume", sweep_id, "--tracking-uri", uri, "--no-progress"]
    return subprocess.run([*argv, *flags], capture_output=True, text=True, timeout=300)


def heartbeat(client: Client, sweep_id: str) -> int:
    return int(client.get_run(sweep_id).data.tags[T.SWEEP_HEARTBEAT])


def test_resume_refuses_a_sweep_whose_orchestrator_is_alive(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str
) -> None:
    sweep = start_sweep(1, "sequential", delay=1.0)  # 12 s: alive throughout the resumes
    parent, _ = sweep.wait_for("a finished trial", lambda: sweep.in_flight_after(1))
    sweep_id = parent.info.run_id
    client = Client(tracking_uri)

    with pytest.raises(Conflict) as refused:
        resume_sweep(sweep_id, tracking_uri=tracking_uri, progress=False)
    message = refused.value.message
    assert "\n" not in message
    assert f"sweep {sweep_id} looks alive" in message
    assert f"pid {sweep.proc.pid}" in message
    assert "--force" in message
    cli = cli_resume(tracking_uri, sweep_id)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    [line] = cli.stderr.strip().splitlines()
    assert line.startswith(f"error: sweep {sweep_id} looks alive")
    assert "--force" in line

    trials = trial_runs(client, client.get_run(sweep_id))
    assert {r.info.status for r in trials} <= {RunStatus.RUNNING, RunStatus.FINISHED}
    assert not [r for r in trials if T.TRIAL_ABANDONED in r.data.tags]
    assert client.get_run(sweep_id).info.status == RunStatus.RUNNING

    assert sweep.proc.wait(timeout=120) == 0, sweep.output()  # untouched, it finishes
    groups = by_status(trial_runs(client, client.get_run(sweep_id)))
    assert set(groups) == {RunStatus.FINISHED}
    assert len(groups[RunStatus.FINISHED]) == BUDGET
    assert client.get_run(sweep_id).info.status == RunStatus.FINISHED


def test_a_running_sweep_refreshes_its_heartbeat(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str
) -> None:
    sweep = start_sweep(1, "sequential", delay=1.0)
    parent, _ = sweep.wait_for("a running trial", lambda: sweep.in_flight_after(0))
    client = Client(tracking_uri)
    first = heartbeat(client, parent.info.run_id)
    sweep.wait_for("a newer heartbeat", lambda: heartbeat(client, parent.info.run_id) > first)
    assert (
        f"pid {sweep.proc.pid}"
        in client.get_run(parent.info.run_id).data.tags[T.SWEEP_ORCHESTRATOR]
    )


@pytest.mark.parametrize("how", ["short timeout", "--force"])
def test_resume_after_sigkill_needs_a_stale_heartbeat_or_force(
    start_sweep: Callable[..., SweepProcess], tracking_uri: str, how: str
) -> None:
    sweep = start_sweep(1, "sequential")
    parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    sweep.stop()  # SIGKILL: its last heartbeat is a moment old
    sweep_id = parent.info.run_id
    client = Client(tracking_uri)
    with pytest.raises(Conflict, match="looks alive"):
        resume_sweep(sweep_id, tracking_uri=tracking_uri, progress=False)

    if how == "--force":
        cli = cli_resume(tracking_uri, sweep_id, "--force")
        assert cli.returncode == 0, cli.stdout + cli.stderr
    else:
        last = heartbeat(client, sweep_id)
        while time.time() * 1000 - last <= 1000:  # wait until the beat is older than 1 s
            time.sleep(0.05)
        resume_sweep(sweep_id, tracking_uri=tracking_uri, progress=False, heartbeat_timeout=1.0)
    trials = check_resumed(client, sweep_id, BUDGET)
    assert "orphaned" in {r.data.tags.get(T.TRIAL_ABANDONED) for r in trials}


def ledger_studies(uri: str) -> list[str]:
    """The names of the optuna studies in a PostgreSQL store's ledger schema."""
    import sqlalchemy as sa

    from tunetrack.sweep.ledger import SCHEMA

    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(f"SELECT study_name FROM {SCHEMA}.studies")).scalars())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_resume_on_postgres_rebuilds_the_study_its_killed_orchestrator_left(
    tmp_path: Path, fresh_postgres_uri: str
) -> None:
    sweep = SweepProcess(tmp_path, fresh_postgres_uri, 2, "loky", 0.3)
    try:
        parent, _ = sweep.wait_for("3 finished trials", lambda: sweep.in_flight_after(3))
    finally:
        sweep.stop()  # SIGKILL: the study stays in the database
    sweep_id = parent.info.run_id
    assert ledger_studies(fresh_postgres_uri) == [f"sweep-{sweep_id}"]

    result = resume_sweep(sweep_id, tracking_uri=fresh_postgres_uri, progress=False, force=True)
    assert result.stopped_because == "budget"
    client = Client(fresh_postgres_uri)
    check_resumed(client, sweep_id, BUDGET)
    assert ledger_studies(fresh_postgres_uri) == []  # dropped once the sweep finished
    client.close()
