"""Where a sweep's optuna study lives when its trials run in other processes.

The study is the trial ledger workers report intermediate values to, ask about pruning and
draw define-by-run parameters from (:class:`~tunetrack.sweep.strategies.TrialHandle`):

* a PostgreSQL tracking store keeps it in the same database, in optuna's own tables in the
  schema :data:`SCHEMA` (apart from the store's tables, and from its ``alembic_version``,
  which optuna would otherwise share), so workers on any machine that reaches the store
  reach the ledger too;
* a tunetrack server as the store, with trials on a Dask or Ray cluster's workers
  (``address``: other machines), keeps it on the server when workers use it (pruning,
  define-by-run): :class:`~tunetrack.sweep.ledger_client.ServedLedger` reaches it through
  ``/api/ledger/call``, and the server holds it where :func:`served_storage` says;
* otherwise the study is a journal file in the orchestrator's temporary directory, which
  only processes on the orchestrator's machine open.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import TYPE_CHECKING

from tunetrack.errors import ConfigError
from tunetrack.sweep import ledger_wire

if TYPE_CHECKING:
    from optuna.storages import BaseStorage, RDBStorage

    from tunetrack.sweep.config import SweepConfig

SCHEMA = "tunetrack_optuna"
_SEARCH_PATH = f"-csearch_path={SCHEMA}"
_LOCK_KEY = zlib.crc32(SCHEMA.encode())  # one orchestrator at a time sets the schema up


def _is_postgres(tracking_uri: str) -> bool:
    """Whether a (normalized) tracking URI is a PostgreSQL database."""
    return tracking_uri.partition(":")[0].partition("+")[0].lower() == "postgresql"


def ledger_url(config: SweepConfig, tracking_uri: str, tmp_dir: str, sweep_id: str) -> str:
    """The optuna storage URL of the ledger of sweep ``sweep_id`` (see the module
    docstring)."""
    if _is_postgres(tracking_uri):
        return _in_schema(tracking_uri)
    scheme = tracking_uri.partition(":")[0].lower()
    remote = config.parallel.address is not None  # a Dask or Ray cluster: other machines
    if remote and scheme in ("http", "https") and _workers_use_ledger(config):
        from tunetrack.sweep.ledger_client import served_ledger_url

        return served_ledger_url(tracking_uri, sweep_id)
    return f"journal:{tmp_dir}/study.log"


def _workers_use_ledger(config: SweepConfig) -> bool:
    """Whether trials report to the ledger (pruning) or draw from it (define-by-run)."""
    pruning = config.early_terminate is not None and config.early_terminate.type != "none"
    return pruning or not config.space.names


def served_storage(tracking_uri: str) -> BaseStorage:
    """Where a tunetrack server over the store at ``tracking_uri`` keeps the ledgers it
    serves: a PostgreSQL store in its database (schema :data:`SCHEMA`, as sweeps that use it
    directly), a SQLite file in an optuna journal beside it (``<file>.ledger.log``: one
    server's worker processes share it), an in-memory store in memory.

    Raises ConfigError when a PostgreSQL user may not create the schema."""
    import sqlalchemy as sa

    if _is_postgres(tracking_uri):
        return _set_up_or_explain(_in_schema(tracking_uri))
    database = sa.make_url(tracking_uri).database
    if database and database != ":memory:" and not database.startswith("file::memory:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(f"{database}.ledger.log"))
    from optuna.storages import InMemoryStorage

    return InMemoryStorage()


def _in_schema(tracking_uri: str) -> str:
    """The PostgreSQL URL whose connections use :data:`SCHEMA` (a libpq ``options``)."""
    import sqlalchemy as sa

    url = sa.make_url(tracking_uri)
    options = url.query.get("options")
    options = " ".join([options, _SEARCH_PATH]) if isinstance(options, str) else _SEARCH_PATH
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def prepare(storage_url: str, study_name: str) -> None:
    """Make a PostgreSQL ledger ready for a new study ``study_name``: the schema and
    optuna's tables exist, and a study of that name left by an earlier invocation of the
    sweep (a resume: it is rebuilt from the trials' runs) is gone. Journals need nothing.

    Raises ConfigError when the store's user may not create the schema or its tables."""
    if storage_url.startswith("journal:"):
        return
    if ledger_wire.is_served(storage_url):
        drop(storage_url, study_name)
        return
    storage = _set_up_or_explain(storage_url)
    try:
        drop(storage, study_name)
    finally:
        storage.engine.dispose()


def _set_up_or_explain(storage_url: str) -> RDBStorage:
    """:func:`_set_up`, a refusal to create the schema as a ConfigError saying what to do."""
    import sqlalchemy as sa

    try:
        return _set_up(storage_url)
    except sa.exc.DBAPIError as exc:
        url = sa.make_url(storage_url)
        lines = str(exc.orig or exc).strip().splitlines()
        raise ConfigError(
            f"cannot keep the sweep's optuna study in schema {SCHEMA} of database "
            f"{url.database!r}: {lines[0] if lines else type(exc).__name__}. Let user "
            f"{url.username!r} create schemas there, or create it for them: CREATE SCHEMA "
            f"{SCHEMA} AUTHORIZATION {url.username}"
        ) from None


def _set_up(storage_url: str) -> RDBStorage:
    """The schema (unless it exists) and optuna's tables, one orchestrator at a time."""
    import sqlalchemy as sa
    from optuna.storages import RDBStorage
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(storage_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                exists = sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
                if conn.execute(exists, {"name": SCHEMA}).first() is None:
                    conn.execute(sa.text(f'CREATE SCHEMA "{SCHEMA}"'))
                    conn.commit()
                return RDBStorage(storage_url)  # creates optuna's tables
            finally:
                conn.rollback()  # a failed statement leaves the transaction aborted
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def drop(storage: str | BaseStorage, study_name: str) -> None:
    """Delete study ``study_name`` from an optuna storage or URL if it is there."""
    import optuna

    if isinstance(storage, str) and ledger_wire.is_served(storage):
        from tunetrack.sweep.ledger_client import ServedLedger

        served = ServedLedger(storage)
        try:
            drop(served, study_name)
        finally:
            served.close()
        return
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=storage)
