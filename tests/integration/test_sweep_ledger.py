"""Where a sweep's optuna study (the ledger its workers prune through) lives: in the
PostgreSQL database of the store, on a tunetrack server for remote Dask workers, or a
journal file that only the orchestrator's machine reaches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_sweep_runner import write_sweep

from tunetrack.entities import RunStatus
from tunetrack.errors import ConfigError, Conflict
from tunetrack.sweep import ledger
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.space import parse_space
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.strategies import make_strategy
from tunetrack.tracking.client import Client

PRUNING = {
    "method": "grid",
    "parameters": {"x": {"values": [0.9, 0.8, 0.85, 0.1, 0.2, 0.05]}},
    "budget": {"trials": 6},
    "early_terminate": {"type": "median", "min_steps": 3, "min_trials": 3},
}
REMOTE = {"n_jobs": 2, "backend": "dask", "address": "tcp://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNETRACK_TRACKING_URI", raising=False)


def scalar(uri: str, sql: str) -> object:
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_store_keeps_the_pruning_ledger_in_its_own_database(
    tmp_path: Path, fresh_postgres_uri: str
) -> None:
    parallel = {"n_jobs": 2, "backend": "loky"}
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", parallel=parallel, **PRUNING))
    result = run_sweep(config, tracking_uri=fresh_postgres_uri, progress=False)

    client = Client(fresh_postgres_uri)
    trials = trial_runs(client, client.get_run(result.sweep_id))
    assert {r.info.status for r in trials} == {RunStatus.FINISHED, RunStatus.PRUNED}
    schema = ledger.SCHEMA
    # the workers reported their steps into optuna's tables in that database ...
    reported = scalar(
        fresh_postgres_uri,
        f"SELECT last_value FROM {schema}.trial_intermediate_values_"
        "trial_intermediate_value_id_seq",
    )
    assert isinstance(reported, int)
    assert reported >= 6 * 3
    # ... in a schema of their own; the finished sweep's study is gone, the store untouched
    assert scalar(fresh_postgres_uri, f"SELECT count(*) FROM {schema}.studies") == 0
    assert scalar(fresh_postgres_uri, f"SELECT count(*) FROM {schema}.alembic_version") == 1
    tunetrack_revision = scalar(fresh_postgres_uri, "SELECT version_num FROM alembic_version")
    assert tunetrack_revision != scalar(
        fresh_postgres_uri, f"SELECT version_num FROM {schema}.alembic_version"
    )
    client.close()


@pytest.mark.postgres
def test_a_study_left_by_an_earlier_invocation_is_rebuilt_not_refused(
    tmp_path: Path, fresh_postgres_uri: str
) -> None:
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", **PRUNING))
    url = ledger.ledger_url(config, fresh_postgres_uri, str(tmp_path), "abc")
    assert ledger.SCHEMA in url
    space = parse_space({"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}})
    goals = [Goal("score", "maximize")]
    ledger.prepare(url, "sweep-abc")
    left = make_strategy("random", space, goals, storage=url, study_name="sweep-abc")
    left.ask()  # its orchestrator died here
    ledger.prepare(url, "sweep-abc")  # a resume
    again = make_strategy("random", space, goals, storage=url, study_name="sweep-abc")
    assert again.study.trials == []


def test_a_remote_dask_sweep_that_prunes_through_a_server_keeps_its_ledger_there(
    tmp_path: Path,
) -> None:
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", parallel=REMOTE, **PRUNING))
    url = ledger.ledger_url(config, "http://127.0.0.1:5000", str(tmp_path), "abc")
    assert url == "ledger+http://127.0.0.1:5000?sweep=abc"
    local = {**REMOTE, "address": None}
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", parallel=local, **PRUNING))
    url = ledger.ledger_url(config, "http://127.0.0.1:5000", str(tmp_path), "abc")
    assert url == f"journal:{tmp_path}/study.log"  # workers on this machine: a local file


def test_a_remote_dask_sweep_without_pruning_keeps_its_journal(tmp_path: Path) -> None:
    config = load_sweep_config(write_sweep(tmp_path, "plain", parallel=REMOTE))
    url = ledger.ledger_url(config, "http://127.0.0.1:5000", str(tmp_path), "abc")
    assert url == f"journal:{tmp_path}/study.log"


@pytest.mark.postgres
def test_a_study_conflict_does_not_show_the_database_password(
    tmp_path: Path, fresh_postgres_uri: str
) -> None:
    with_password = sa.make_url(fresh_postgres_uri).set(password="s3cret")  # trust auth
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", **PRUNING))
    url = ledger.ledger_url(config, with_password.render_as_string(False), str(tmp_path), "abc")
    ledger.prepare(url, "sweep-twice")
    make_strategy("random", config.space, config.metrics, storage=url, study_name="sweep-twice")
    with pytest.raises(Conflict) as caught:
        make_strategy("random", config.space, config.metrics, storage=url, study_name="sweep-twice")
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.fixture
def plain_role(fresh_postgres_uri: str) -> Iterator[str]:
    """A new role that may log in to the fresh database but create nothing in it."""
    name = f"tt_role_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(fresh_postgres_uri, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
    try:
        yield name
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {name}"))
            conn.execute(sa.text(f"DROP ROLE {name}"))
        engine.dispose()


@pytest.mark.postgres
def test_a_user_who_may_not_create_the_schema_is_told_how_to_get_it(
    tmp_path: Path, fresh_postgres_uri: str, plain_role: str
) -> None:
    as_role = sa.make_url(fresh_postgres_uri).set(username=plain_role)
    config = load_sweep_config(write_sweep(tmp_path, "stepwise", **PRUNING))
    url = ledger.ledger_url(config, as_role.render_as_string(False), str(tmp_path), "abc")
    with pytest.raises(ConfigError) as caught:
        ledger.prepare(url, "sweep-1")
    message = str(caught.value)
    assert "permission denied" in message
    assert f"CREATE SCHEMA {ledger.SCHEMA} AUTHORIZATION {plain_role}" in message

    engine = sa.create_engine(fresh_postgres_uri, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # what the message says to do
        conn.execute(sa.text(f"CREATE SCHEMA {ledger.SCHEMA} AUTHORIZATION {plain_role}"))
    engine.dispose()
    ledger.prepare(url, "sweep-1")
    strategy = make_strategy(
        "random", config.space, config.metrics, storage=url, study_name="sweep-1"
    )
    assert strategy.ask() is not None
