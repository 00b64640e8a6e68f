"""Durability under real processes: exit, SIGTERM, concurrent writers, racing bootstraps."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from stored_points import RUN_POINTS

TIMEOUT_S = 300  # a hang fails the test instead of blocking CI

EXIT_SCRIPT = """\
import tunetrack

tunetrack.set_experiment("durability")
run = tunetrack.start_run()
print(run.info.run_id, flush=True)
for i in range(10_000):
    tunetrack.log_metric("m", float(i), step=i)
# no end_run(): the interpreter exits with the run active and points buffered
"""

SIGTERM_SCRIPT = """\
import sys
import time

import tunetrack


def work(run):
    print(run.info.run_id, flush=True)
    for i in range(10_000):
        tunetrack.log_metric("m", float(i), step=i)
    print("ready", flush=True)
    time.sleep(600)


tunetrack.set_experiment("durability")
if sys.argv[1] == "with":
    with tunetrack.start_run() as run:
        work(run)
else:
    work(tunetrack.start_run())
"""

# argv: index, points, experiment name ("{i}" is replaced by the index), go-file path
RACE_SCRIPT = """\
import os
import sys
import time

import tunetrack

index, points, experiment, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
open(f"{go}.ready{index}", "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("timed out waiting for the go file")
    time.sleep(0.002)
tunetrack.set_experiment(experiment.replace("{i}", index))
with tunetrack.start_run(run_name=f"proc-{index}"):
    for i in range(points):
        tunetrack.log_metric("m", float(i), step=i)
"""


# -- helpers ---------------------------------------------------------------------------
def child_env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env["TUNETRACK_TRACKING_URI"] = uri
    return env


def spawn(tmp_path: Path, script: str, uri: str, *args: str) -> subprocess.Popen[str]:
    path = tmp_path / "script.py"
    if not path.exists():
        path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        cwd=tmp_path,
        env=child_env(uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Wait for every process (killing all on a hang); return (code, stdout, stderr)."""
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT_S)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def read_lines(proc: subprocess.Popen[str], n: int) -> list[str]:
    """The first ``n`` lines the process prints (failing if it stalls or exits first)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + TIMEOUT_S
    while data.count(b"\n") < n:
        left = deadline - time.monotonic()
        assert left > 0, "the child never printed its lines"
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                _, err = proc.communicate(timeout=TIMEOUT_S)
                pytest.fail(f"child exited early ({proc.returncode}): {err}")
            data += chunk
    return data.decode().splitlines()[:n]


def release(go: Path, count: int) -> None:
    """Let ``count`` race scripts go at once, when all of them are waiting."""
    deadline = time.monotonic() + TIMEOUT_S
    while not all(Path(f"{go}.ready{i}").exists() for i in range(count)):
        assert time.monotonic() < deadline, "the children never got ready"
        time.sleep(0.01)
    go.touch()


def query(uri: str, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(uri, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def run_state(uri: str, run_id: str) -> tuple[str, int]:
    ((status,),) = query(uri, "SELECT status FROM runs WHERE run_id = :r", r=run_id)
    ((rows,),) = query(uri, f"SELECT count(*) FROM {RUN_POINTS} WHERE l.run_id = :r", r=run_id)
    return status, rows


# -- one process -----------------------------------------------------------------------
# Prepended to a script: the batch the background thread writes stays in flight (its
# write starts late) while the main thread exits. Only a flush that waits for the batch
# in flight can keep its points; nothing here asserts on time.
SLOW_WRITE = """\
import time

from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking import fluent

_write = SqlStore.log_metric_rows


def _late_write(self, rows, **kwargs):
    if WAIT_FOR_SIGTERM:
        deadline = time.monotonic() + 120
        while not fluent._terminating and time.monotonic() < deadline:
            time.sleep(0.005)
    time.sleep(2)
    _write(self, rows, **kwargs)


SqlStore.log_metric_rows = _late_write
"""

# Appended to EXIT_SCRIPT with SLOW_WRITE: exit only once the background thread has taken
# every buffered point into the batch it is (slowly) writing.
EXIT_IN_FLIGHT = """\
writer = tunetrack.Client().writer
deadline = time.monotonic() + 120
while writer.pending and time.monotonic() < deadline:
    time.sleep(0.001)
"""


def prelude(slow_write: bool, wait_for_sigterm: bool = False) -> str:
    if not slow_write:
        return ""
    return f"WAIT_FOR_SIGTERM = {wait_for_sigterm}\n" + SLOW_WRITE


@pytest.mark.parametrize("slow_write", [False, True], ids=["plain", "in_flight"])
def test_exit_without_end_run_keeps_every_point(tmp_path: Path, slow_write: bool) -> None:
    uri = f"sqlite:///{tmp_path}/exit.db"
    script = prelude(slow_write) + EXIT_SCRIPT + (EXIT_IN_FLIGHT if slow_write else "")
    ((code, out, err),) = finish([spawn(tmp_path, script, uri)])
    assert code == 0, err
    run_id = out.split()[0]
    assert run_state(uri, run_id) == ("FINISHED", 10_000)
    ((steps,),) = query(uri, "SELECT count(DISTINCT step) FROM metrics")
    assert steps == 10_000


@pytest.mark.parametrize(
    ("form", "slow_write"),
    [("with", False), ("bare", False), ("with", True), ("bare", True)],
    ids=["with", "bare", "with-in_flight", "bare-in_flight"],
)
def test_sigterm_keeps_every_point_and_kills_the_run(
    tmp_path: Path, form: str, slow_write: bool
) -> None:
    uri = f"sqlite:///{tmp_path}/term.db"
    proc = spawn(tmp_path, prelude(slow_write, True) + SIGTERM_SCRIPT, uri, form)
    try:
        run_id, ready = read_lines(proc, 2)
        assert ready == "ready"
        proc.send_signal(signal.SIGTERM)
    finally:
        ((code, _, err),) = finish([proc])
    assert code != 0, err
    assert code != -signal.SIGTERM, "SIGTERM killed the process without any cleanup"
    assert run_state(uri, run_id) == ("KILLED", 10_000)


# -- concurrent processes --------------------------------------------------------------
POINTS_EACH = 25_000  # points each of the eight writers logs


def eight_writers(tmp_path: Path, uri: str) -> dict[str, object]:
    """Eight processes stream POINTS_EACH points each into one run apiece of one store at
    once; what their stderr and the store hold afterwards."""
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, default_artifact_root=str(tmp_path / "artifacts"))
    store.create_experiment("shared")  # the database and experiment exist before they start
    store.close()
    go = tmp_path / "go"
    procs = [
        spawn(tmp_path, RACE_SCRIPT, uri, str(i), str(POINTS_EACH), "shared", str(go))
        for i in range(8)
    ]
    release(go, 8)
    results = finish(procs)
    distinct = f"SELECT count(*) FROM (SELECT DISTINCT l.run_id, p.step FROM {RUN_POINTS}) AS d"
    return {
        "exit codes": [code for code, _, _ in results],
        "lock errors": [err for _, _, err in results if "locked" in err.lower()],
        "points per run": sorted(
            n for _, n in query(uri, f"SELECT l.run_id, count(*) FROM {RUN_POINTS} GROUP BY 1")
        ),
        "distinct points": query(uri, distinct)[0][0],
        "statuses": query(uri, "SELECT DISTINCT status FROM runs"),
    }


EXACTLY_ONCE = {
    "exit codes": [0] * 8,
    "lock errors": [],
    "points per run": [POINTS_EACH] * 8,
    "distinct points": 8 * POINTS_EACH,  # none doubled
    "statuses": [("FINISHED",)],
}


def test_eight_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    assert eight_writers(tmp_path, f"sqlite:///{tmp_path}/shared.db") == EXACTLY_ONCE


@pytest.mark.postgres
def test_eight_processes_write_one_postgres_db(tmp_path: Path, fresh_postgres_uri: str) -> None:
    assert eight_writers(tmp_path, fresh_postgres_uri) == EXACTLY_ONCE


def check_fresh_race(uri: str, results: list[tuple[int, str, str]], experiments: int) -> None:
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err, err
    assert query(uri, "SELECT count(*) FROM alembic_version") == [(1,)]
    assert query(uri, "SELECT count(*) FROM experiments") == [(experiments + 1,)]  # + Default
    assert query(uri, "SELECT count(*), count(DISTINCT experiment_id) FROM runs") == [
        (4, experiments)
    ]
    assert query(uri, "SELECT DISTINCT status FROM runs") == [("FINISHED",)]
    assert query(uri, "SELECT count(*) FROM metrics") == [(4_000,)]
    assert query(uri, "SELECT count(*) FROM latest_metrics") == [(4,)]


def race(tmp_path: Path, uri: str, experiment: str) -> list[tuple[int, str, str]]:
    go = tmp_path / "go"
    procs = [
        spawn(tmp_path, RACE_SCRIPT, uri, str(i), "1000", experiment, str(go)) for i in range(4)
    ]
    release(go, 4)
    return finish(procs)


def test_four_processes_bootstrap_a_fresh_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    uri = f"sqlite:///{db}"
    assert not db.exists()
    check_fresh_race(uri, race(tmp_path, uri, "exp-{i}"), experiments=4)


@pytest.mark.postgres
def test_four_processes_bootstrap_a_fresh_postgres_db(
    tmp_path: Path, fresh_postgres_uri: str
) -> None:
    assert query(fresh_postgres_uri, "SELECT to_regclass('alembic_version')") == [(None,)]
    check_fresh_race(fresh_postgres_uri, race(tmp_path, fresh_postgres_uri, "exp-{i}"), 4)


def test_four_processes_set_the_same_new_experiment(tmp_path: Path) -> None:
    """Sweep workers all call set_experiment(name) for one experiment nobody created yet."""
    uri = f"sqlite:///{tmp_path}/same.db"
    check_fresh_race(uri, race(tmp_path, uri, "shared"), experiments=1)
