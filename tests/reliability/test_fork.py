"""Forked processes and process exits: each buffered point is written exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_durability import finish, query, spawn

from stored_points import RUN_POINTS

# The parent buffers 5 points (its writer would wait an hour), then forks. The child logs
# 3 points of its own into the same run and leaves; the parent flushes after it.
FORK_SCRIPT = """\
import os
import sys

import tunetrack
from tunetrack.tracking.writer import writer_for

tunetrack.set_experiment("fork")
run = tunetrack.start_run()
client = tunetrack.Client()
writer = writer_for(client.store)
writer.flush_interval = 3600.0
for i in range(5):
    tunetrack.log_metric("parent", float(i), step=i)
assert writer.pending == 5

def child():
    assert writer.pending == 0, "the child inherited the parent's buffer"
    for i in range(3):
        tunetrack.log_metric("child", float(i), step=i)
    CHILD_END

if sys.argv[1] == "os.fork":
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0) if EXIT_HARD else sys.exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
else:
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0, proc.exitcode
tunetrack.end_run()
print(run.info.run_id, tunetrack.get_run(run.info.run_id).info.status.value, flush=True)
"""

# How the child leaves: flush explicitly and exit hard, exit normally (atexit), or leave
# it to the exit of a multiprocessing child (which skips atexit).
CHILD_ENDS = {
    "flush": ("tunetrack.Client().flush()", True),
    "exit": ("pass", False),
}


@pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
@pytest.mark.parametrize("child_end", sorted(CHILD_ENDS))
def test_a_forked_child_writes_only_its_own_points(
    tmp_path: Path, how: str, child_end: str
) -> None:
    uri = f"sqlite:///{tmp_path}/fork.db"
    end, hard = CHILD_ENDS[child_end]
    script = FORK_SCRIPT.replace("CHILD_END", end).replace("EXIT_HARD", str(hard))
    ((code, out, err),) = finish([spawn(tmp_path, script, uri, how)])
    assert code == 0, err
    run_id, status = out.split()
    assert status == "FINISHED"  # the child's exit did not end the parent's run
    rows = query(
        uri, f"SELECT l.key, count(*) FROM {RUN_POINTS} WHERE l.run_id = :r GROUP BY 1", r=run_id
    )
    assert dict(rows) == {"parent": 5, "child": 3}


# The store is down while the background thread tries to write; it comes back before the
# script exits without flushing. The exit flush must write the kept points.
OUTAGE_SCRIPT = """\
import time

import tunetrack
from tunetrack.store.sql.store import SqlStore

DOWN = True
CALLS = 0
_write = SqlStore.log_metric_rows


def flaky_write(self, rows, **kwargs):
    global CALLS
    CALLS += 1
    if DOWN:
        raise OSError("the database is unreachable")
    _write(self, rows, **kwargs)


SqlStore.log_metric_rows = flaky_write
tunetrack.set_experiment("outage")
run = tunetrack.start_run()
writer = tunetrack.Client().writer
writer.flush_interval, writer.retry_delay = 0.01, 0.001
for i in range(100):
    tunetrack.log_metric("m", float(i), step=i)
deadline = time.monotonic() + 60
while not (CALLS >= writer.retries and writer.pending == 100) and time.monotonic() < deadline:
    time.sleep(0.01)
print(run.info.run_id, CALLS >= writer.retries, flush=True)
writer.flush_interval = 3600.0  # only the exit flush can write them now
time.sleep(0.1)
DOWN = False
"""


def test_points_kept_through_an_outage_are_written_at_exit(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/outage.db"
    ((code, out, err),) = finish([spawn(tmp_path, OUTAGE_SCRIPT, uri)])
    assert code == 0, err
    run_id, failed = out.split()
    assert failed == "True"  # the outage really met the background thread
    ((rows,),) = query(uri, f"SELECT count(*) FROM {RUN_POINTS} WHERE l.run_id = :r", r=run_id)
    assert rows == 100, err
    ((status,),) = query(uri, "SELECT status FROM runs WHERE run_id = :r", r=run_id)
    assert status == "FINISHED"


# On PostgreSQL a pooled connection is a socket to one server session. The parent holds one
# in its pool when it forks; the child must open its own (a child that wrote through the
# parent's socket would interleave with it on one session), and write under batch ids of its
# own (under its parent's, one of the two would find its batch "written before" and drop it).
PG_FORK_SCRIPT = """\
import os
import sys

import tunetrack


def session(client):
    with client.store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


tunetrack.set_experiment("fork")
run = tunetrack.start_run()
client = tunetrack.Client()
client.writer.flush_interval = 3600.0
for i in range(5):
    tunetrack.log_metric("parent", float(i), step=i)
assert client.writer.pending == 5
parent_session = session(client)  # its connection stays pooled across the fork


def child():
    assert session(tunetrack.Client()) != parent_session, "the child used the parent's session"
    for i in range(3):
        tunetrack.log_metric("child", float(i), step=i)


if sys.argv[1] == "os.fork":
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            sys.exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
else:
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    assert proc.exitcode == 0, proc.exitcode
tunetrack.end_run()
print(run.info.run_id, tunetrack.get_run(run.info.run_id).info.status.value, flush=True)
"""


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
def test_a_forked_child_opens_its_own_postgresql_connections(
    tmp_path: Path, fresh_postgres_uri: str, how: str
) -> None:
    ((code, out, err),) = finish([spawn(tmp_path, PG_FORK_SCRIPT, fresh_postgres_uri, how)])
    assert code == 0, err
    run_id, status = out.split()
    assert status == "FINISHED"
    rows = query(
        fresh_postgres_uri,
        f"SELECT l.key, count(*) FROM {RUN_POINTS} WHERE l.run_id = :r GROUP BY 1",
        r=run_id,
    )
    assert dict(rows) == {"parent": 5, "child": 3}
