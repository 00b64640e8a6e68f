"""Shared fixtures: the store backends every store test runs against.

``store`` is parametrized over :data:`STORE_FACTORIES`; adding a backend (e.g. ``"rest"``)
means adding one factory there, and every test written against the ``Store`` interface
runs on it too. PostgreSQL tests need the server at ``TUNETRACK_TEST_POSTGRES_URI``:
when it is unreachable they are skipped locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import tunetrack
from tunetrack.entities import Run
from tunetrack.store.base import Store

if TYPE_CHECKING:
    from rest_servers import RestServers

DEFAULT_POSTGRES_URI = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _admin_engine(uri: str):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    return sa.create_engine(
        uri,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def _redacted(uri: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URI>"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


@pytest.fixture(scope="session")
def postgres_server_uri() -> str:
    """URI of a PostgreSQL server we may create databases on (checked once per session)."""
    uri = os.environ.get("TUNETRACK_TEST_POSTGRES_URI", DEFAULT_POSTGRES_URI)
    try:
        import sqlalchemy as sa

        engine = _admin_engine(uri)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # ImportError (no psycopg), OperationalError, bad URI...
        reason = (
            f"PostgreSQL server unreachable at {_redacted(uri)} "
            f"(set TUNETRACK_TEST_POSTGRES_URI): {type(exc).__name__}: {_first_line(exc)}"
        )
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return uri


@pytest.fixture
def fresh_postgres_uri(postgres_server_uri: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped after the test."""
    import sqlalchemy as sa

    name = f"tt_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(postgres_server_uri)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(postgres_server_uri).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sql_only: a store-suite test that reaches into the SQL store (not on rest)"
    )


# -- the store backends ----------------------------------------------------------------
StoreFactory = Callable[[pytest.FixtureRequest, Path], Store]


def _sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    from tunetrack.store.sql.store import SqlStore

    return SqlStore(f"sqlite:///{tmp_path}/tunetrack.db")


def _postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    from tunetrack.store.sql.store import SqlStore

    uri = request.getfixturevalue("fresh_postgres_uri")
    return SqlStore(uri, default_artifact_root=str(tmp_path / "artifacts"))


@pytest.fixture(scope="session")
def rest_servers() -> Iterator[RestServers]:
    """Starts tracking servers for the ``rest`` backend (one per test, each a fresh store)."""
    from rest_servers import RestServers

    servers = RestServers()
    try:
        yield servers
    finally:
        servers.close()


def _rest_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    from rest_servers import stop_server
    from tunetrack.store.rest import RestStore

    if request.node.get_closest_marker("sql_only"):
        pytest.skip("reaches into the SQL store's internals")
    url, pid = request.getfixturevalue("rest_servers").start(
        tmp_path / "tunetrack.db", tmp_path / "artifacts"
    )
    request.addfinalizer(lambda: stop_server(pid))
    return RestStore(url)


#: Backend name -> factory building a fresh, empty store.
STORE_FACTORIES: dict[str, StoreFactory] = {
    "sqlite": _sqlite_store,
    "postgresql": _postgres_store,
    "rest": _rest_store,
}

#: Extra marks per backend (select or deselect them with ``-m``).
STORE_MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {
    "postgresql": (pytest.mark.postgres,),
}


@pytest.fixture(
    params=[pytest.param(name, marks=STORE_MARKS.get(name, ())) for name in STORE_FACTORIES]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store on each backend in :data:`STORE_FACTORIES`."""
    instance = STORE_FACTORIES[request.param](request, tmp_path)
    try:
        yield instance
    finally:
        instance.close()


# -- small helpers built on the interface ----------------------------------------------
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def experiment_id(store: Store) -> str:
    """A fresh active experiment in ``store``."""
    return store.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def make_run(store: Store, experiment_id: str) -> Callable[..., Run]:
    """``make_run(**create_run_kwargs)``: a run in ``experiment_id`` unless told otherwise."""

    def _make(experiment: str | None = None, **kwargs: object) -> Run:
        kwargs.setdefault("start_time", now_ms())
        return store.create_run(experiment or experiment_id, **kwargs)

    return _make


Race = Callable[..., list[BaseException | None]]
RACE_TIMEOUT_S = 60.0  # a hang fails the test instead of blocking CI


@pytest.fixture
def race() -> Race:
    """``race(*calls)``: run the calls at once, one thread each, released together by a
    barrier; return what each raised (``None`` where the call returned)."""

    def _race(*calls: Callable[[], object]) -> list[BaseException | None]:
        barrier = threading.Barrier(len(calls))
        outcomes: list[BaseException | None] = [None] * len(calls)

        def run(index: int, call: Callable[[], object]) -> None:
            barrier.wait()
            try:
                call()
            except BaseException as exc:  # handed back to the test
                outcomes[index] = exc

        threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(RACE_TIMEOUT_S)
            assert not thread.is_alive(), f"a racing call hung for {RACE_TIMEOUT_S:.0f} s"
        return outcomes

    return _race


_TRACKING_ENV = (
    "TUNETRACK_TRACKING_URI",
    "TUNETRACK_EXPERIMENT_ID",
    "TUNETRACK_EXPERIMENT_NAME",
    "TUNETRACK_ARTIFACT_ROOT",
)


@pytest.fixture
def isolated_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Isolate the fluent API's process-wide state; yield this test's tracking URI.

    The test tracks into a fresh ``sqlite:///{tmp_path}/t.db``, starts with no active
    experiment, runs inside ``tmp_path`` (nothing lands in the repository), and leaves no
    active run or SIGTERM handler behind.
    """
    from tunetrack.tracking import fluent

    for name in _TRACKING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    sigterm = signal.getsignal(signal.SIGTERM)
    uri = f"sqlite:///{tmp_path}/t.db"
    tunetrack.set_tracking_uri(uri)
    fluent._experiment_id = None
    try:
        yield uri
    finally:
        try:
            while tunetrack.active_run() is not None:
                tunetrack.end_run()
        finally:
            fluent._experiment_id = None
            tunetrack.set_tracking_uri(None)
            signal.signal(signal.SIGTERM, sigterm)
