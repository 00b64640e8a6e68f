"""MetricWriter over a real SqlStore on a SQLite file: batching, backpressure, retries."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from tunetrack.errors import NotFound, StoreError
from tunetrack.store.base import MetricRow
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.writer import MetricWriter

NEVER = 3600.0  # a flush interval the background thread never reaches in a test


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
        return conn.execute(f"SELECT count(*) FROM metrics {where}", args).fetchone()[0]


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


def test_reaching_batch_size_triggers_a_write(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER, batch_size=100)
    add_points(writer, run_id, 100)
    assert wait_for(lambda: count(db_path) == 100)


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


def test_background_failure_surfaces_in_the_callers_thread(db_path: Path, writers) -> None:
    store, run_id = make_store(FlakyStore, db_path)
    store.down = True
    writer = writers(
        store, flush_interval=NEVER, batch_size=5, max_buffer=1_000_000, retries=2,
        retry_delay=0.001,
    )  # fmt: skip
    added = 0
    error: StoreError | None = None
    deadline = time.monotonic() + 30
    while error is None and time.monotonic() < deadline:
        try:
            writer.add(run_id, "m", added, 1, float(added))
            added += 1
        except StoreError as exc:
            error = exc
        time.sleep(0.001)
    assert error is not None, "the background write error never reached add()"
    assert store.calls >= 2
    store.down = False
    # A background attempt that began before the recovery may still report its failure
    # once; the flush after that must write every point.
    try:
        writer.flush()
    except StoreError:
        writer.flush()
    assert count(db_path) == added
    assert writer.pending == 0


def test_unknown_run_surfaces_as_not_found(store_run, writers, db_path: Path) -> None:
    store, run_id = store_run
    writer = writers(store, flush_interval=NEVER)
    writer.add("no-such-run", "m", 0, 1, 1.0)
    with pytest.raises(NotFound):
        writer.flush()
    add_points(writer, run_id, 3)  # the writer keeps working for a real run
    writer.flush()
    assert count(db_path) == 3


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
            "SELECT key, count(*), count(DISTINCT step) FROM metrics GROUP BY key ORDER BY key"
        ).fetchall()
    assert per_key == [(f"t{t}", n, n) for t in range(threads_n)]
    metrics = store.get_run(run_id).data.metrics
    assert metrics == {f"t{t}": float(n - 1) for t in range(threads_n)}
