"""Where a sweep's optuna study lives when its trials run in other processes.

The study is the trial ledger workers report intermediate values to, ask about pruning and
draw define-by-run parameters from (:class:`~tunetrack.sweep.strategies.TrialHandle`):

* a PostgreSQL tracking store keeps it in the same database, in optuna's own tables in the
  schema :data:`SCHEMA` (apart from the store's tables, and from its ``alembic_version``,
  which optuna would otherwise share), so workers on any machine that reaches the store
  reach the ledger too;
* any other store keeps it in a journal file in the orchestrator's temporary directory,
  which only processes on the orchestrator's machine can open: with a Dask scheduler
  ``address`` and a tunetrack server as the store, a sweep that needs the ledger is
  refused at its start.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import TYPE_CHECKING

from tunetrack.errors import ConfigError

if TYPE_CHECKING:
    from optuna.storages import RDBStorage

    from tunetrack.sweep.config import SweepConfig

SCHEMA = "tunetrack_optuna"
_SEARCH_PATH = f"-csearch_path={SCHEMA}"
_LOCK_KEY = zlib.crc32(SCHEMA.encode())  # one orchestrator at a time sets the schema up


def _is_postgres(tracking_uri: str) -> bool:
    """Whether a (normalized) tracking URI is a PostgreSQL database."""
    return tracking_uri.partition(":")[0].partition("+")[0].lower() == "postgresql"


def ledger_url(config: SweepConfig, tracking_uri: str, tmp_dir: str) -> str:
    """The optuna storage URL of the sweep's ledger (see the module docstring)."""
    if _is_postgres(tracking_uri):
        return _in_schema(tracking_uri)
    scheme = tracking_uri.partition(":")[0].lower()
    remote = config.parallel.backend == "dask" and config.parallel.address is not None
    if remote and scheme in ("http", "https") and (needs := _needs_ledger(config)):
        raise ConfigError(
            f"{needs} on Dask workers at {config.parallel.address}, which may run on other "
            f"machines, needs a trial ledger they can all reach: with a tunetrack server as "
            f"the store ({tracking_uri}) it would be a file on this machine only. Pruning "
            f"across machines needs PostgreSQL as the tracking store (--tracking-uri "
            f"postgresql://user@host/db): the ledger then lives in that database"
        )
    return f"journal:{tmp_dir}/study.log"


def _needs_ledger(config: SweepConfig) -> str | None:
    """What in ``config`` makes workers use the ledger (in words), or None."""
    if config.early_terminate is not None and config.early_terminate.type != "none":
        return f"early_terminate ({config.early_terminate.type})"
    if not config.space.names:
        return "a define-by-run objective (trial.suggest_* with no parameters declared)"
    return None


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
    import sqlalchemy as sa

    try:
        storage = _set_up(storage_url)
    except sa.exc.DBAPIError as exc:
        url = sa.make_url(storage_url)
        lines = str(exc.orig or exc).strip().splitlines()
        raise ConfigError(
            f"cannot keep the sweep's optuna study in schema {SCHEMA} of database "
            f"{url.database!r}: {lines[0] if lines else type(exc).__name__}. Let user "
            f"{url.username!r} create schemas there, or create it for them: CREATE SCHEMA "
            f"{SCHEMA} AUTHORIZATION {url.username}"
        ) from None
    try:
        drop(storage, study_name)
    finally:
        storage.engine.dispose()


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


def drop(storage: object, study_name: str) -> None:
    """Delete study ``study_name`` from an optuna storage or URL if it is there."""
    import optuna

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=storage)  # type: ignore[arg-type]
