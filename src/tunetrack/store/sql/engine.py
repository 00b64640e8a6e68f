"""Engines for the SQL store: SQLite pragmas, write transactions with retry, schema bootstrap."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from tunetrack.errors import ConfigError, InvalidInput, StoreError, TunetrackError
from tunetrack.store.sql.wal_checkpoints import AUTOCHECKPOINT_PAGES

#: The alembic revision this code expects; a test keeps it equal to the migrations' head.
SCHEMA_HEAD = "0012"
_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x7475_6E65  # "tune": advisory lock that serialises schema migration
_WAIT_S = 60.0  # how long a caller waits for the one connection of an in-memory database
_T = TypeVar("_T")
_IN_CHUNK = 500  # items per IN (...) list
try:
    import fcntl
except ImportError:  # Windows: the threads of a process still take turns
    fcntl = None  # type: ignore[assignment]


class _WriteGate:
    """Writers of one SQLite file take turns here before ``BEGIN IMMEDIATE``.

    SQLite's busy handler polls a held write lock with sleeps that grow to 100 ms, so under
    contention a waiting writer idles long after the lock is free. Here the threads of a
    process queue on a lock and processes on an ``flock`` of a file beside the database:
    the next writer starts as soon as the last one commits. Re-entrant within a thread.
    """

    def __init__(self, database: str) -> None:
        self._path = f"{database}-writers.lock"
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._depth = 0
        self._file: Any = None

    def _open(self) -> bool:
        """Whether the lock file is open (it cannot be where the directory is read-only:
        then only this process's threads take turns)."""
        if self._file is None and fcntl is not None:
            try:
                self._file = open(self._path, "a+b")  # noqa: SIM115 (kept open)
            except OSError:
                self._file = False
        return bool(self._file)

    def _flock(self) -> bool:
        """Take the file lock, polling each millisecond; after ``_WAIT_S`` go on without it
        (SQLite's busy timeout then decides), so a stuck process blocks no one for good."""
        deadline = time.monotonic() + _WAIT_S
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.001)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._pid != os.getpid():  # forked: the parent's lock and file are the parent's
            self._reset()
        with self._lock:
            self._depth += 1
            try:
                locked = self._depth == 1 and self._open() and self._flock()
                try:
                    yield
                finally:
                    if locked:
                        fcntl.flock(self._file, fcntl.LOCK_UN)
            finally:
                self._depth -= 1


class _TakeTurnsPool(StaticPool):
    """One pinned connection, lent to one caller at a time.

    An in-memory SQLite database lives and dies with its single connection, which the user's
    threads and the batched writer's thread share; a sqlite3 connection must not run two
    transactions at once, so a checkout waits until the previous caller has given it back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lent = threading.Lock()  # released by whichever thread returns the connection

    def _do_get(self) -> ConnectionPoolEntry:
        if not self._lent.acquire(timeout=_WAIT_S):
            raise PoolTimeout(f"the in-memory database stayed busy for {_WAIT_S:.0f} s")
        try:
            return super()._do_get()
        except BaseException:
            self._lent.release()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._lent.release()


_write_gates: weakref.WeakKeyDictionary[Engine, _WriteGate] = weakref.WeakKeyDictionary()


#: Connections an engine keeps open between uses, and how many more it opens when busier.
#: Kept ones stay: a pool smaller than the concurrency it serves closes and reopens
#: connections all the time (a new PostgreSQL backend costs more than the batch it writes).
POOL_SIZE = 16


def make_engine(uri: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and explicit BEGIN handling.

    An in-memory SQLite database gets one connection that every thread takes turns on.
    """
    if not uri.startswith("sqlite"):
        return _server_engine(uri)
    memory = ":memory:" in uri or uri in ("sqlite://", "sqlite:///")
    engine = create_engine(
        uri,
        connect_args={"timeout": 60, "check_same_thread": False, "isolation_level": None},
        **(
            {"poolclass": _TakeTurnsPool}
            if memory
            else {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE}
        ),
    )

    if not memory and engine.url.database:
        _write_gates[engine] = _WriteGate(os.path.abspath(engine.url.database))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            # Copy the log into the database (two fsyncs) every 20,000 pages, not SQLite's
            # 1,000: a sweep's per-trial writes then pay a twentieth of those fsyncs. The
            # bulk metric path checkpoints more often, outside the write gate (WalCheckpoints).
            cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")  # as PostgreSQL: refuse orphans, cascade deletes
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that upgrades to a
        # writer mid-way fails at once with "database is locked" instead of waiting.
        write = conn.get_execution_options().get("tunetrack_write", False)
        run_driver_sql(conn, "BEGIN IMMEDIATE" if write else "BEGIN", ())

    return engine


def _server_engine(uri: str) -> Engine:
    """An engine for a database server; a missing driver says which extra installs it."""
    try:
        engine = create_engine(
            uri, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, future=True
        )
    except ImportError as exc:
        missing = f"the {exc.name} package" if exc.name else f"its driver ({exc})"
        raise ConfigError(
            f"a PostgreSQL tracking URI needs {missing}, which is not installed: "
            "pip install 'tunetrack[postgres]'"
        ) from None
    from tunetrack.store.sql import pg_arrays

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        pg_arrays.register(dbapi_conn.adapters)  # the bulk metric path sends packed arrays

    return engine


def chunks(items: Sequence[_T], params_each: int = 1) -> Iterator[Sequence[_T]]:
    """``items`` in slices short enough for one ``IN (...)`` list (of ``params_each``
    parameters per item)."""
    size = _IN_CHUNK // params_each
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _is_transient(exc: BaseException) -> bool:
    """A lock, a serialisation failure or a lost connection (the server restarted, or an
    admin ended the session): the transaction did not happen and may run again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    msg = str(exc.orig).lower()
    return any(s in msg for s in ("locked", "busy", "could not serialize", "deadlock"))


# Every integer a caller gives is range-checked before it reaches the database but for the
# bulk rows of log_metric_rows, whose clean batches skip the check (it costs as much again).
_OUT_OF_RANGE = (
    "a number is outside the 64-bit integer range a database column holds "
    "(a metric step or timestamp, say): {}"
)


def with_retry(fn: Callable[[], _T], attempts: int = 8) -> _T:
    """Run ``fn``, retrying transient lock/serialisation errors with jittered backoff.

    Database errors that remain become :class:`StoreError`, an integer too large for the
    database :class:`InvalidInput`; tunetrack errors pass through.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except TunetrackError:
            raise
        except OverflowError as exc:  # SQLite's driver, binding an int beyond 64 bits
            raise InvalidInput(_OUT_OF_RANGE.format(exc)) from None
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None)  # the driver's own error (DBAPIError)
            if getattr(cause, "sqlstate", None) == "22003":  # PostgreSQL: out of range
                raise InvalidInput(_OUT_OF_RANGE.format(cause)) from None
            if attempt + 1 < attempts and _is_transient(exc):
                time.sleep(min(2.0, 0.02 * 2**attempt) * (0.5 + random.random()))
                continue
            raise StoreError(f"database error: {exc.__class__.__name__}: {exc}") from exc
    raise AssertionError("unreachable")


def with_retry_again(fn: Callable[[bool], _T]) -> _T:
    """:func:`with_retry` for a write that must recognise its own earlier attempt: ``fn``
    gets ``again=True`` from the second attempt on, when a lost connection may have taken
    the answer of a COMMIT that happened."""
    attempts = itertools.count()
    return with_retry(lambda: fn(next(attempts) > 0))


def is_sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` is on a SQLite file (whose writers take turns at a write gate)."""
    return engine in _write_gates


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction (BEGIN IMMEDIATE on SQLite, through the file's
    :class:`_WriteGate`); commits or rolls back."""
    gate = _write_gates.get(engine)
    with gate() if gate is not None else contextlib.nullcontext(), engine.connect() as conn:
        conn.execution_options(tunetrack_write=True)
        with conn.begin():
            yield conn


def run_driver_sql(
    conn: Connection,
    statement: str,
    params: Sequence[Any] | Mapping[str, Any],
    *,
    many: bool = False,
) -> tuple[Any, ...] | None:
    """Run driver-level SQL on ``conn``'s own DBAPI cursor, inside its transaction; the
    first row it returns, if any.

    The per-run hot path's way past SQLAlchemy's execution layer (about 20 µs a statement,
    more than SQLite's own work). A driver error comes out as SQLAlchemy's (IntegrityError,
    OperationalError, ...), so :func:`with_retry` treats it like any other, and a lost
    connection is invalidated as SQLAlchemy would.
    """
    dbapi_conn = conn.connection
    cursor = dbapi_conn.cursor()
    try:
        if many:  # rows: a sequence of sequences
            cursor.executemany(statement, cast(Sequence[Any], params))
        else:
            cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else None
    except conn.dialect.loaded_dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, dbapi_conn, cursor)
        if lost:
            conn.invalidate()
        raise DBAPIError.instance(
            statement,
            params,
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from exc
    finally:
        cursor.close()


@contextlib.contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """The write transaction of a schema change.

    SQLite runs it with foreign keys off: a batch migration rebuilds a table by dropping the
    old one, and with them on, that drop would cascade into the table's children. The
    references are checked before the commit instead.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _set_foreign_keys(conn, "OFF")  # before BEGIN: SQLite ignores it in a transaction
        try:
            conn.execution_options(tunetrack_write=True)
            with conn.begin():
                yield conn
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite:
                _set_foreign_keys(conn, "ON")


def _set_foreign_keys(conn: Connection, state: str) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection is never detached
    driver.execute(f"PRAGMA foreign_keys={state}")


def _check_foreign_keys(conn: Connection) -> None:
    orphans = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if orphans:
        table, _rowid, parent, _fk = orphans[0]
        raise StoreError(
            f"schema migration left {len(orphans)} rows pointing at missing rows "
            f"(first: a row of {table} refers to a missing row of {parent}); nothing was changed"
        )


def schema_revision(conn: Connection) -> str | None:
    """The alembic revision stored in the database, or None for an empty database."""
    try:
        with conn.begin_nested() if conn.in_transaction() else contextlib.nullcontext():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, SQLAlchemyError):
        return None


def run_migrations(conn: Connection, revision: str = "head") -> None:
    """Upgrade the schema on ``conn`` (inside the caller's transaction) with alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def lock_schema(conn: Connection) -> None:
    """Serialise schema work between processes (SQLite: BEGIN IMMEDIATE already did)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
