"""SqlStore: the tracking store on SQLAlchemy 2 (SQLite by default, PostgreSQL for teams)."""

from __future__ import annotations

import os
import re
import uuid
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from tunetrack import _validation as v
from tunetrack._clock import now_ms
from tunetrack.entities import (
    GcReport,
    LifecycleStage,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tunetrack.errors import Conflict, InvalidInput, NotFound, StoreError
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.base import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, Store
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import (
    SCHEMA_HEAD,
    chunks,
    is_sqlite_file,
    lock_schema,
    make_engine,
    run_driver_sql,
    run_migrations,
    schema_revision,
    schema_transaction,
    with_retry,
    with_retry_again,
    write_transaction,
)
from tunetrack.store.sql.experiments import ExperimentsMixin, deleted_time
from tunetrack.store.sql.naming import random_run_name
from tunetrack.store.sql.own_batch_ids import OwnBatchIds
from tunetrack.store.sql.paging import PageToken
from tunetrack.store.sql.registry import RegistryMixin
from tunetrack.store.sql.run_data import RunDataMixin, param_values
from tunetrack.store.sql.run_rows import RUN_COLUMNS, RunRecord, run_info, run_values
from tunetrack.store.sql.settings import (
    ARTIFACT_ROOT,
    ENV_ARTIFACT_ROOT,
    artifact_root_for,
    normalize_root,
    read_setting,
    write_setting,
)
from tunetrack.store.sql.statements import BulkSql, RunSql
from tunetrack.store.sql.wal_checkpoints import WalCheckpoints

_RUN_ID_RE = re.compile(r"[0-9a-zA-Z_-]{1,32}")
# Built once: SQLAlchemy then only looks it up in its compiled cache.
_UPDATE_RUN = (  # the values to set are the parameters besides which_run
    update(m.runs).where(m.runs.c.run_id == bindparam("which_run")).returning(*m.runs.c)
)


def _float(value: float | None) -> float:
    return float("nan") if value is None else value


class SqlStore(ExperimentsMixin, RunDataMixin, RegistryMixin, Store):
    """A :class:`~tunetrack.store.base.Store` on a SQLAlchemy database URI.

    The schema is created on first use of an empty database; an older schema must be
    upgraded with ``tunetrack db upgrade``. SQLite runs in WAL mode with a busy timeout,
    and writes that still meet a lock are retried.

    A new store records its artifact root in the database: ``default_artifact_root``, else
    ``$TUNETRACK_ARTIFACT_ROOT``, else beside a SQLite file or ./tunetrack-artifacts. Every
    client then uses the recorded root (:attr:`artifact_root`); one asking for another is
    warned. ``migrate=True`` (``tunetrack db upgrade``) upgrades an older schema and records
    ``default_artifact_root``, when given, as the root of experiments created from then on.
    """

    def __init__(
        self, db_uri: str, default_artifact_root: str | None = None, *, migrate: bool = False
    ) -> None:
        self.db_uri = db_uri
        requested = default_artifact_root or os.environ.get(ENV_ARTIFACT_ROOT)
        self.artifact_root = normalize_root(requested or artifact_root_for(db_uri))
        self._engine = make_engine(db_uri)
        self._dialect = self._engine.dialect.name
        self._insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        self._bulk = BulkSql.for_dialect(self._dialect)
        self._run_sql = RunSql.for_dialect(self._dialect)
        self._own_ids = OwnBatchIds() if self._dialect == "postgresql" else None
        self._checkpoints = WalCheckpoints() if is_sqlite_file(self._engine) else None
        new_root = default_artifact_root if migrate else None
        with_retry(lambda: self._ensure_schema(migrate, new_root))
        self.artifact_root = with_retry(self._recorded_artifact_root)
        if requested and normalize_root(requested) != self.artifact_root:
            warnings.warn(
                f"this store keeps new experiments' artifacts in {self.artifact_root}, not "
                f"{requested} (change it with `tunetrack db upgrade --artifact-root URL`)",
                stacklevel=2,
            )
        _open_stores.add(self)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (the user store and the UI's direct reads share it)."""
        return self._engine

    # -- schema ------------------------------------------------------------------------
    def _ensure_schema(self, migrate: bool, artifact_root: str | None) -> None:
        with self._engine.connect() as conn:
            revision = schema_revision(conn)
        if revision == SCHEMA_HEAD and artifact_root is None:
            return
        if revision is not None and not migrate:
            raise StoreError(
                f"database {self._engine.url!r} has schema revision {revision}; this tunetrack "
                f"needs {SCHEMA_HEAD}: run `tunetrack db upgrade`"
            )
        self.upgrade_schema(artifact_root)

    def _recorded_artifact_root(self) -> str:
        with self._engine.connect() as conn:
            return read_setting(conn, ARTIFACT_ROOT) or self.artifact_root

    def upgrade_schema(self, artifact_root: str | None = None) -> None:
        """Bring the schema to the newest revision (safe with concurrent processes).

        ``artifact_root`` becomes the store's recorded root (for experiments created from
        now on); without it, a store that has none (a new one) records :attr:`artifact_root`.
        """
        wanted = None if artifact_root is None else normalize_root(artifact_root)

        def txn() -> str:
            with schema_transaction(self._engine) as conn:
                lock_schema(conn)
                if schema_revision(conn) != SCHEMA_HEAD:
                    run_migrations(conn)
                recorded = read_setting(conn, ARTIFACT_ROOT)
                root = wanted or recorded or self.artifact_root
                if root != recorded:
                    write_setting(conn, ARTIFACT_ROOT, root)
                exists = conn.execute(
                    select(m.experiments.c.experiment_id).where(
                        m.experiments.c.experiment_id == int(DEFAULT_EXPERIMENT_ID)
                    )
                ).first()
                if not exists:
                    now = now_ms()
                    conn.execute(
                        insert(m.experiments).values(
                            experiment_id=int(DEFAULT_EXPERIMENT_ID),
                            name=DEFAULT_EXPERIMENT_NAME,
                            artifact_location=f"{root}/{DEFAULT_EXPERIMENT_ID}",
                            lifecycle_stage=LifecycleStage.ACTIVE.value,
                            creation_time=now,
                            last_update_time=now,
                        )
                    )
            return root

        self.artifact_root = with_retry(txn)

    def close(self) -> None:
        """Dispose of the connection pool (a later call opens new connections)."""
        self._engine.dispose()

    def _after_fork_in_child(self) -> None:
        # Connections inherited from the parent belong to the parent: forget them unclosed
        # (closing would end the parent's sessions). An in-memory database has no other copy.
        if self._engine.url.database not in (None, "", ":memory:"):
            self._engine.dispose(close=False)
        if self._own_ids is not None:
            self._own_ids.renew()
        if self._checkpoints is not None:
            self._checkpoints.renew()

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int,
        user_id: str = "",
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        params: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a run in an active experiment, nested under ``parent_run_id`` if given."""
        eid = self.experiment_key(experiment_id)
        if run_id is not None and not _RUN_ID_RE.fullmatch(run_id):
            raise InvalidInput(f"run_id {run_id!r} must be 1-32 letters, digits, '-' or '_'")
        run_id = run_id or uuid.uuid4().hex
        v.int64(start_time, "run start_time")
        name = v.validate_name(run_name, "run", v.MAX_RUN_NAME_LENGTH) if run_name else None
        name = name or random_run_name()
        tag_rows = self._tag_values(tags or {})
        param_rows = param_values(params or {})

        def txn(again: bool) -> Run:
            with write_transaction(self._engine) as conn:
                if again and (made := self._made_before(conn, run_id, start_time, name)):
                    return made  # an earlier attempt committed; its answer was lost
                sql = self._run_sql
                row = run_driver_sql(conn, sql.experiment, (parent_run_id, eid))
                if row is None:
                    raise NotFound(f"no experiment with id {experiment_id!r}")
                stage, artifact_location, parent_found = row
                if stage != LifecycleStage.ACTIVE.value:
                    raise InvalidInput(
                        f"experiment {experiment_id!r} is deleted: restore it to add runs"
                    )
                if parent_run_id is not None and not parent_found:
                    raise NotFound(f"no run with id {parent_run_id!r}")
                info = RunInfo(
                    run_id=run_id,
                    experiment_id=str(eid),
                    run_name=name,
                    status=RunStatus.parse(status),
                    start_time=start_time,
                    end_time=None,
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    artifact_uri=f"{artifact_location.rstrip('/')}/{run_id}",
                    parent_run_id=parent_run_id,
                    user_id=user_id,
                )
                try:
                    values = run_values(info)
                    run_driver_sql(conn, sql.insert_run, tuple(values[c] for c in RUN_COLUMNS))
                except IntegrityError as exc:
                    raise Conflict(f"a run with id {run_id!r} already exists") from exc
                for statement, rows in ((sql.insert_tag, tag_rows), (sql.insert_param, param_rows)):
                    if rows:
                        keyed = [(run_id, k, val) for k, val in rows]
                        run_driver_sql(conn, statement, keyed, many=True)
            return Run(info, RunData(params=dict(param_rows), tags=dict(tag_rows)))

        return with_retry_again(txn)

    def _made_before(
        self, conn: Connection, run_id: str, start_time: int, run_name: str
    ) -> Run | None:
        """The run an earlier attempt of this create_run committed, if it did: its id with
        this start time and name (another run under the id stays a Conflict)."""
        row = conn.execute(select(m.runs).where(m.runs.c.run_id == run_id)).first()
        if row is None or (row.start_time, row.run_name) != (start_time, run_name):
            return None
        return self._runs(conn, [row])[0]

    @staticmethod
    def _ended_before(conn: Connection, run_id: str, status_end: tuple[str, int]) -> RunInfo | None:
        """The run as an earlier attempt of this terminate_run left it, if it committed: its
        status and end time already these (its metrics must not be written again)."""
        row = conn.execute(select(m.runs).where(m.runs.c.run_id == run_id)).first()
        if row is None or (row.status, row.end_time) != status_end:
            return None
        return run_info(row)

    @staticmethod
    def _run_row(conn: Connection, run_id: str) -> Row[Any]:
        row = conn.execute(select(m.runs).where(m.runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return row

    def _runs(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
        """Build Runs for run rows, fetching their data in a few IN queries."""
        ids = [row.run_id for row in rows]
        data: dict[str, tuple[dict[str, float], dict[str, str], dict[str, str]]] = {
            i: ({}, {}, {}) for i in ids
        }
        for chunk in chunks(ids):
            for r in conn.execute(
                select(
                    m.latest_metrics.c.run_id, m.latest_metrics.c.key, m.latest_metrics.c.value
                ).where(m.latest_metrics.c.run_id.in_(chunk))
            ):
                data[r.run_id][0][r.key] = _float(r.value)
            for slot, table in ((1, m.params), (2, m.tags)):
                for r in conn.execute(select(table).where(table.c.run_id.in_(chunk))):
                    data[r.run_id][slot][r.key] = r.value
        return [Run(run_info(row), RunData(*data[row.run_id])) for row in rows]

    def get_run(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params and tags."""

        def read() -> Run:
            with self._engine.connect() as conn:
                return self._runs(conn, [self._run_row(conn, run_id)])[0]

        return with_retry(read)

    def update_run_info(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; return the new info."""
        values: dict[str, object] = {}
        if status is not None:
            values["status"] = RunStatus.parse(status).value
        if end_time is not None:
            values["end_time"] = v.int64(end_time, "run end_time")
        if run_name is not None:
            values["run_name"] = v.validate_name(run_name, "run", v.MAX_RUN_NAME_LENGTH)

        def txn() -> RunInfo:
            with write_transaction(self._engine) as conn:
                if not values:
                    return run_info(self._run_row(conn, run_id))
                return run_info(self._update_run_row(conn, run_id, values))

        return with_retry(txn)

    @staticmethod
    def _update_run_row(conn: Connection, run_id: str, values: Mapping[str, object]) -> Row[Any]:
        """Change a run's row; return the row as it is now (NotFound for no such run)."""
        row = conn.execute(_UPDATE_RUN, {**values, "which_run": run_id}).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return row

    def terminate_run(
        self,
        run_id: str,
        *,
        status: RunStatus,
        end_time: int,
        metrics: Sequence[Metric] = (),
        tags: Sequence[RunTag] = (),
    ) -> RunInfo:
        """End a run in one transaction: its last ``metrics`` and ``tags`` (refused for a
        deleted run, as :meth:`log_batch` refuses them), its ``status`` and ``end_time``."""
        values = (RunStatus.parse(status).value, v.int64(int(end_time), "run end_time"), run_id)
        write = self._batch_writes(run_id, metrics, (), tags) if metrics or tags else None

        def txn(again: bool) -> RunInfo:
            with write_transaction(self._engine) as conn:
                if again and (ended := self._ended_before(conn, run_id, values[:2])):
                    return ended  # an earlier attempt committed; its answer was lost
                found = run_driver_sql(conn, self._run_sql.end_run, values)  # locks it
                if found is None:
                    raise NotFound(f"no run with id {run_id!r}")
                row = RunRecord(*found)
                if write is not None:
                    if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                        raise InvalidInput(f"run {run_id!r} is deleted: restore it to log to it")
                    write(conn, {run_id: row.experiment_id})
                return run_info(row)

        return with_retry_again(txn)

    def _set_run_stage(self, run_id: str, stage: LifecycleStage) -> None:
        def txn() -> None:
            with write_transaction(self._engine) as conn:
                done = conn.execute(
                    update(m.runs)
                    .where(m.runs.c.run_id == run_id)
                    .values(
                        lifecycle_stage=stage.value,
                        deleted_time=deleted_time(m.runs, stage, now_ms()),
                    )
                ).rowcount
                if not done:
                    raise NotFound(f"no run with id {run_id!r}")

        with_retry(txn)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    # -- garbage collection ---------------------------------------------------------------
    def gc(
        self,
        *,
        older_than: int | None = None,
        experiment_ids: Sequence[str] | None = None,
        dry_run: bool = False,
        proxy_root: ArtifactRepository | None = None,
    ) -> GcReport:
        """Remove for good what is deleted (see :mod:`tunetrack.store.sql.gc`); a
        ``tunetrack-artifacts:`` location is under ``proxy_root`` (the server's root)."""
        from tunetrack.store.sql import gc

        if older_than is not None and v.int64(older_than, "older_than") < 0:
            raise InvalidInput(f"older_than must be at least 0 milliseconds, got {older_than}")
        scope = None if experiment_ids is None else [self.experiment_key(e) for e in experiment_ids]

        def txn() -> tuple[gc.Plan, dict[str, int]]:
            cutoff = None if older_than is None else now_ms() - older_than
            with write_transaction(self._engine) as conn:
                todo = gc.plan(conn, cutoff, scope)
                counts = gc.delete_rows(conn, todo)
                if dry_run:  # the counts of the real thing, then nothing happened
                    conn.get_transaction().rollback()  # type: ignore[union-attr]
            return todo, counts

        todo, counts = with_retry(txn)
        removed = gc.remove_artifacts(todo, proxy_root, dry_run=dry_run)
        return GcReport(
            dry_run=dry_run,
            experiment_ids=tuple(str(eid) for eid in todo.experiments),
            run_ids=tuple(run.run_id for run in todo.runs),
            rows=counts,
            artifacts=tuple(removed.locations),
            kept=tuple(todo.kept),
            artifact_errors=tuple(removed.errors),
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, ordered by step then timestamp."""
        v.validate_text(key, "metric key")

        def read() -> list[Metric]:
            with self._engine.connect() as conn:
                self._run_row(conn, run_id)
                points = m.metrics.c
                rows = conn.execute(
                    select(points.step, points.timestamp, points.value)
                    .where(points.series_id == m.series_of(run_id, key))
                    .order_by(points.step, points.timestamp, points.id)
                ).all()
            return [Metric(key, _float(val), ts, step) for step, ts, val in rows]

        return with_retry(read)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of these experiments matching the filter, sorted, one page at a time."""
        from tunetrack.search import parse_filter, parse_order_by
        from tunetrack.store.sql.filters import run_filter_clause
        from tunetrack.store.sql.run_pages import read_run_page, walks_metric_index

        v.validate_max_results(max_results)
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        eids = [self.experiment_key(e) for e in experiment_ids]
        token = PageToken.decode(page_token)
        r = m.runs.c
        stages = [s.value for s in ViewType.parse(view_type).stages()]
        conditions: list[ColumnElement[bool]] = [r.lifecycle_stage.in_(stages)]
        expr = parse_filter(filter_string)
        keys = parse_order_by(order_by)
        clause = run_filter_clause(expr, eids, per_run=walks_metric_index(keys))
        if clause is not None:
            conditions.append(clause)

        def read() -> PagedList[Run]:
            with self._engine.connect() as conn:
                until = token.until
                if until is None:
                    until = conn.execute(
                        select(func.max(r.start_time)).where(r.experiment_id.in_(eids))
                    ).scalar()
                rows = read_run_page(
                    conn, eids, [*conditions, r.start_time <= (until or 0)], keys,
                    token.offset, max_results + 1,
                )  # fmt: skip
                more = len(rows) > max_results
                items = self._runs(conn, rows[:max_results])
            following = PageToken(token.offset + max_results, until)
            return PagedList(items, following.encode() if more else None)

        return with_retry(read)


_open_stores: weakref.WeakSet[SqlStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_open_stores):
        store._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
