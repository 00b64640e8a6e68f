"""MetricWriter over a real SqlStore on a SQLite file: batching, backpressure, retries."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from stored_points import RUN_POINTS
from tunetrack.errors import InvalidInput, NotFound, StoreError
from tunetrack.store.base import MetricRow
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.writer import MetricWriter

NEVER = 3600.0  # a flush interval the background thread never reaches in a test
OUTAGE_WARNING = pytest.mark.filterwarnings("ignore:tunetrack. writing:RuntimeWarning")


def locked_error() -> OperationalError:
    return OperationalError("INSERT INTO metrics ...", {}, sqlite3.OperationalError("locked"))


class FlakyStore(SqlStore):
    """A SqlStore whose bulk write fails ``failures`` times (or always while ``down``)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.failures = 0
        self.down = False
        self.calls = 0
        self.lock = threading.Lock()

    def log_metric_rows(self, rows: Sequence[MetricRow], *, validated: bool = False) -> None:
        with self.lock:
            self.calls += 1
            fail = self.down or self.failures > 0
            if self.failures > 0:
                self.failures -= 1
        if fail:
            raise locked_error()
        super().log_metric_rows(rows, validated=validated)


class GatedStore(SqlStore):
    """A SqlStore whose bulk write waits at a gate (to catch a batch in flight)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def log_metric_rows(self, rows: Sequence[MetricRow], *, validated: bool = False) -> None:
        self.entered.set()
        self.gate.wait(timeout=2)  # bounded so a fixed writer never hangs the test
        super().log_metric_rows(rows, validated=validated)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "writer.db"


class FeedingStore(SqlStore):
    """A SqlStore that calls ``feed`` after each bulk write (another thread logging)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.feed: Callable[[], None] | None = None
        self.calls = 0
        self.fed = 0

    def log_metric_rows(self, rows: Sequence[MetricRow], *, validated: bool = False) -> None:
        super().log_metric_rows(rows, validated=validated)
        self.calls += 1
        if self.feed is not None and self.fed < 200:
            self.fed += 1
            self.feed()


def writer_points_fed(store: FeedingStore) -> int:
    return 10 * store.fed


def make_store(cls: type[SqlStore], db_path: Path) -> tuple[SqlStore, str]:
    store = cls(f"sqlite:///{db_path}")
    exp = store.create_experiment("writer")
    run = store.create_run(exp, start_time=int(time.time() * 1000))
    return store, run.info.run_id


@pytest.fixture
def store_run(db_path: Path) -> Iterator[tuple[SqlStore, str]]:
    store, run_id = make_store(SqlStore, db_path)
    yield store, run_id
    store.close()


@pytest.fixture
def writers() -> Iterator[Callable[..., MetricWriter]]:
    """``make(store, **options)``: writers that are closed after the test."""
    made: list[MetricWriter] = []

    def make(store: SqlStore, **options: float) -> MetricWriter:
        writer = MetricWriter(store, **options)  # type: ignore[arg-type]
        made.append(writer)
        return writer

    yield make
    for writer in made:
        if isinstance(writer.store, FlakyStore):
            writer.store.down = False
        with contextlib.suppress(Exception):
            writer.close()


def count(db_path: Path, where: str = "", args: tuple = ()) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(f"SELECT count(*) FROM {RUN_POINTS} {where}", args).fetchone()[0]


def wait_for(predicate: Callable[[], bool], deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def add_points(writer: MetricWriter, run_id: str, n: int, key: str = "m") -> None:
    for i in range(n):
        writer.add(run_id, key, i, 1_000 + i, float(i))


# -- batching ----------------------------------------------------------------------------
def test_points_are_written_on_flush(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER)
    add_points(writer, run_id, 10)
    assert writer.pending == 10
    assert count(db_path) == 0  # nothing reached the database before the flush
    writer.flush()
    assert writer.pending == 0
    history = store.get_metric_history(run_id, "m")
    assert [(p.step, p.timestamp, p.value) for p in history] == [
        (i, 1_000 + i, float(i)) for i in range(10)
    ]
    assert store.get_run(run_id).data.metrics["m"] == 9.0  # latest_metrics upserted


def test_background_thread_flushes_by_itself(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=0.05)
    add_points(writer, run_id, 5)
    assert wait_for(lambda: count(db_path) == 5)
    assert writer.pending == 0


def test_reaching_batch_size_triggers_a_write_each_time(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER, batch_size=100)
    for written in (100, 200, 300):  # the writer wakes again for every full batch
        for step in range(written - 100, written):
            writer.add(run_id, "m", step, 1_000, float(step))
        assert wait_for(lambda n=written: count(db_path) == n)


def test_full_buffer_applies_backpressure(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER, batch_size=2, max_buffer=4)
    for i in range(1000):
        writer.add(run_id, "m", i, 1, float(i))
        assert writer.pending <= writer.max_buffer
    writer.flush()
    assert count(db_path) == 1000
    with sqlite3.connect(db_path) as conn:
        steps = [s for (s,) in conn.execute("SELECT step FROM metrics ORDER BY step")]
    assert steps == list(range(1000))


def test_flush_waits_for_a_batch_in_flight(db_path: Path, writers) -> None:
    """flush() must not return while the background thread still writes a batch."""
    store, run_id = make_store(GatedStore, db_path)
    writer = writers(store, flush_interval=NEVER, batch_size=5)
    add_points(writer, run_id, 5)  # wakes the background thread
    assert store.entered.wait(10)
    writer.flush()  # the 5 points were added before this call
    written = count(db_path)
    store.gate.set()
    assert written == 5


def test_close_flushes(store_run, db_path: Path) -> None:
    store, run_id = store_run
    writer = MetricWriter(store, flush_interval=NEVER)
    add_points(writer, run_id, 7)
    writer.close()
    assert count(db_path) == 7
    writer.close()  # a second close is harmless


# -- failures ----------------------------------------------------------------------------
def test_transient_failures_are_retried(db_path: Path, writers) -> None:
    store, run_id = make_store(FlakyStore, db_path)
    store.failures = 2
    writer = writers(store, flush_interval=NEVER, retries=3, retry_delay=0.001)
    add_points(writer, run_id, 50)
    writer.flush()
    assert store.calls == 3
    assert count(db_path) == 50


def test_persistent_failure_is_raised_then_recovered(db_path: Path, writers) -> None:
    store, run_id = make_store(FlakyStore, db_path)
    store.down = True
    writer = writers(store, flush_interval=NEVER, retries=3, retry_delay=0.001)
    add_points(writer, run_id, 20)
    with pytest.raises(StoreError):
        writer.flush()
    assert store.calls == 3  # retried before giving up
    assert writer.pending == 20  # kept, not dropped
    add_points(writer, run_id, 5, key="later")  # the error was reported: adding works again
    with pytest.raises(StoreError):
        writer.flush()
    store.down = False
    writer.flush()
    assert count(db_path) == 25
    assert writer.pending == 0


def test_an_outage_warns_once_and_its_points_are_written_when_it_ends(
    db_path: Path, writers
) -> None:
    store, run_id = make_store(FlakyStore, db_path)
    store.down = True
    writer = writers(store, flush_interval=0.01, batch_size=5, retries=2, retry_delay=0.001)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add_points(writer, run_id, 50)  # no error reaches the logging call
        assert wait_for(lambda: store.calls >= 6)  # three failed background rounds
    # one warning per outage, not one per attempt
    assert [str(w.message).endswith("retrying in the background") for w in caught] == [True]
    store.down = False
    assert wait_for(lambda: count(db_path) == 50)  # the background thread kept trying
    writer.flush()
    assert count(db_path) == 50


@OUTAGE_WARNING
def test_a_full_buffer_during_an_outage_raises_in_the_callers_thread(
    db_path: Path, writers
) -> None:
    store, run_id = make_store(FlakyStore, db_path)
    store.down = True
    writer = writers(
        store, flush_interval=NEVER, batch_size=5, max_buffer=20, retries=2, retry_delay=0.001
    )
    added: list[int] = []

    def log_until_an_error() -> None:
        for i in range(1000):
            added.append(i)
            writer.add(run_id, "m", i, 1, float(i))

    with pytest.raises(StoreError, match="kept in memory"):
        log_until_an_error()
    assert writer.pending == len(added) < 1000  # the point that met the error is kept too
    store.down = False
    writer.flush()
    assert count(db_path) == len(added)


@OUTAGE_WARNING
def test_kept_points_are_written_by_the_next_flush_not_reported_stale(
    db_path: Path, writers
) -> None:
    """After an outage that ended, flush writes the kept points instead of raising."""
    store, run_id = make_store(FlakyStore, db_path)
    store.down = True
    writer = writers(store, flush_interval=NEVER, batch_size=5, retries=2, retry_delay=0.001)
    add_points(writer, run_id, 5)  # wakes the background thread, whose write fails
    # the background write failed and put the batch back
    assert wait_for(lambda: store.calls >= 2 and writer.pending == 5)
    store.down = False
    writer.flush()
    assert count(db_path) == 5


@OUTAGE_WARNING
def test_end_run_after_a_recovered_outage_finishes_the_run(db_path: Path) -> None:
    from tunetrack.tracking.client import Client

    store, run_id = make_store(FlakyStore, db_path)
    client = Client(store=store)
    writer = client.writer
    writer.retries, writer.retry_delay = 2, 0.001
    store.down = True
    for i in range(20):
        client.log_metric(run_id, "m", float(i), step=i)
    writer._wake.set()
    assert wait_for(lambda: store.calls >= 2 and writer.pending == 20)
    store.down = False
    client.set_terminated(run_id)
    assert store.get_run(run_id).info.status.value == "FINISHED"
    assert count(db_path) == 20
    client.close()


def test_flush_returns_once_its_own_points_are_written(db_path: Path, writers) -> None:
    """Another thread logging all the time must not keep flush() waiting for it."""
    store, run_id = make_store(FeedingStore, db_path)
    writer = writers(store, flush_interval=NEVER, batch_size=10)
    add_points(writer, run_id, 25)
    # Every batch written lets "another thread" log 10 more points (up to 200 batches).
    store.feed = lambda: add_points(writer, run_id, 10, key="busy")
    writer.flush()
    store.feed = None
    # Only the 25 points logged before flush() had to be written: three batches, not 200.
    assert store.calls <= 3
    assert count(db_path, "WHERE l.key = 'm'") == 25
    writer.flush()
    assert count(db_path, "WHERE l.key = 'busy'") == writer_points_fed(store)


def test_unknown_run_surfaces_as_not_found(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER)
    writer.add("no-such-run", "m", 0, 1, 1.0)
    with pytest.raises(NotFound):
        writer.flush()
    add_points(writer, run_id, 3)  # the writer keeps working for a real run
    writer.flush()
    assert count(db_path) == 3


def test_an_error_belongs_to_the_run_whose_points_failed(db_path: Path) -> None:
    """Trial A's refused points never surface in trial B's calls, in any thread."""
    from tunetrack.tracking.client import Client

    store, run_a = make_store(SqlStore, db_path)
    run_b = store.create_run(store.get_run(run_a).info.experiment_id, start_time=1).info.run_id
    client = Client(store=store)
    client.log_metric(run_a, "m", 1.0, step=-1)  # checked once: A exists
    client.flush()  # written before the delete, whatever the background thread's timing
    SqlStore(f"sqlite:///{db_path}").delete_run(run_a)  # deleted by "another process"
    errors: dict[str, BaseException] = {}

    def trial(run_id: str) -> None:
        try:
            for i in range(200):
                client.log_metric(run_id, "m", float(i), step=i)
            client.set_terminated(run_id)
        except BaseException as exc:
            errors[run_id] = exc

    threads = [threading.Thread(target=trial, args=(r,)) for r in (run_a, run_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert run_b not in errors, errors.get(run_b)
    assert store.get_run(run_b).info.status.value == "FINISHED"
    assert count(db_path, "WHERE l.run_id = ?", (run_b,)) == 200
    assert isinstance(errors.get(run_a), InvalidInput)
    assert "is deleted" in str(errors[run_a])
    assert count(db_path, "WHERE l.run_id = ?", (run_a,)) == 1  # only the point from before
    client.close()


def test_a_refusal_is_raised_once_for_points_buffered_before_it_was_reported(
    db_path: Path, writers
) -> None:
    """Points of a deleted run that were still buffered when its error reached the caller
    are part of that same failure: a later flush does not raise it a second time. Points
    logged after the caller saw the error fail anew, and say so."""
    store, run_id = make_store(GatedStore, db_path)
    store.delete_run(run_id)
    writer = writers(store, flush_interval=NEVER)
    add_points(writer, run_id, 3)
    in_flight = threading.Thread(target=writer.sync)  # writes the 3 points, held at the gate
    in_flight.start()
    assert store.entered.wait(5)
    add_points(writer, run_id, 2)  # buffered while the first batch is in flight
    store.gate.set()
    in_flight.join(10)
    with pytest.raises(InvalidInput, match="is deleted"):
        writer.add(run_id, "m", 9, 1, 1.0)  # the caller learns of the failure here
    writer.flush()  # the 2 points from before are refused too: already reported
    add_points(writer, run_id, 1)  # logging on after the error is a new failure
    with pytest.raises(InvalidInput, match="1 metric points were not written"):
        writer.flush()
    assert count(db_path) == 0


def test_many_threads_failing_at_once_each_get_their_own_error(db_path: Path) -> None:
    from tunetrack.tracking.client import Client

    store, first = make_store(SqlStore, db_path)
    experiment = store.get_run(first).info.experiment_id
    runs = [store.create_run(experiment, start_time=1).info.run_id for _ in range(8)]
    client = Client(store=store)
    for run_id in runs:
        client.log_metric(run_id, "m", 0.0)
    other = SqlStore(f"sqlite:///{db_path}")
    for run_id in runs:
        other.delete_run(run_id)
    barrier = threading.Barrier(len(runs), timeout=30)
    errors: dict[str, BaseException] = {}

    def trial(run_id: str) -> None:
        try:
            client.log_metric(run_id, "m", 1.0, step=1)
            barrier.wait()
            client.set_terminated(run_id)
        except BaseException as exc:
            errors[run_id] = exc

    threads = [threading.Thread(target=trial, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(errors) == sorted(runs)
    for run_id, error in errors.items():
        assert isinstance(error, InvalidInput), repr(error)
        assert repr(run_id) in str(error)  # each thread got its own run's error
    client.close()


# -- concurrency -------------------------------------------------------------------------
def test_four_threads_lose_nothing(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=0.01)
    n, threads_n = 25_000, 4
    barrier = threading.Barrier(threads_n, timeout=30)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            add_points(writer, run_id, n, key=f"t{t}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    writer.flush()
    assert count(db_path) == n * threads_n
    with sqlite3.connect(db_path) as conn:
        per_key = conn.execute(
            f"SELECT l.key, count(*), count(DISTINCT p.step) FROM {RUN_POINTS} "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert per_key == [(f"t{t}", n, n) for t in range(threads_n)]
    metrics = store.get_run(run_id).data.metrics
    assert metrics == {f"t{t}": float(n - 1) for t in range(threads_n)}
