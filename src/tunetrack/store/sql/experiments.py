"""Experiment operations of the SQL store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tunetrack import _validation as v
from tunetrack._clock import now_ms
from tunetrack.entities import Experiment, LifecycleStage, PagedList, ViewType
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import DEFAULT_EXPERIMENT_ID
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry, write_transaction
from tunetrack.store.sql.paging import PageToken


def deleted_time(table: Table, stage: LifecycleStage, now: int) -> ColumnElement[Any] | None:
    """The ``deleted_time`` a row of ``table`` gets on moving to ``stage``: its first deletion
    time is kept (deleting again changes nothing), a restore clears it."""
    if stage is LifecycleStage.ACTIVE:
        return None
    return func.coalesce(table.c.deleted_time, now)


def _name_taken(name: str, hint: str = "") -> Conflict:
    return Conflict(f"an experiment named {name!r} already exists{hint}")


class ExperimentsMixin:
    """Create, read, search, rename, tag, delete and restore experiments."""

    _engine: Engine
    artifact_root: str

    _insert: Callable[..., Any]  # the dialect's insert(), which has on_conflict_*

    @staticmethod
    def _tag_values(tags: Mapping[str, object]) -> list[tuple[str, str]]:
        if len(tags) > v.MAX_TAGS_PER_BATCH:
            raise InvalidInput(f"{len(tags)} tags in one batch; at most {v.MAX_TAGS_PER_BATCH}")
        return [
            (v.validate_key(k, "tag"), v.validate_value(val, "tag", k, v.MAX_TAG_VALUE_LENGTH))
            for k, val in tags.items()
        ]

    @staticmethod
    def experiment_key(experiment_id: str | int) -> int:
        """The database key of ``experiment_id``; InvalidInput unless an integer string."""
        try:
            key = int(experiment_id)
        except (TypeError, ValueError):
            key = None
        if key is None or not -(2**63) <= key < 2**63:  # the database's BIGINT
            raise InvalidInput(f"experiment_id must be an integer string, got {experiment_id!r}")
        return key

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment with a unique ``name`` and return its id."""
        v.validate_name(name, "experiment", v.MAX_EXPERIMENT_NAME_LENGTH)
        v.validate_text(artifact_location or "", "artifact location")
        tag_rows = self._tag_values(tags or {})

        def txn() -> str:
            now = now_ms()
            with write_transaction(self._engine) as conn:
                self._check_experiment_name_free(conn, name)
                try:
                    result = conn.execute(
                        insert(m.experiments).values(
                            name=name,
                            artifact_location=artifact_location or "",
                            lifecycle_stage=LifecycleStage.ACTIVE.value,
                            creation_time=now,
                            last_update_time=now,
                        )
                    )
                except IntegrityError as exc:  # a concurrent transaction took the name
                    raise _name_taken(name) from exc
                pk = result.inserted_primary_key
                assert pk is not None  # always set after a one-row INSERT without RETURNING
                eid = pk[0]
                if not artifact_location:
                    conn.execute(
                        update(m.experiments)
                        .where(m.experiments.c.experiment_id == eid)
                        .values(artifact_location=f"{self.artifact_root}/{eid}")
                    )
                if tag_rows:
                    conn.execute(
                        insert(m.experiment_tags),
                        [{"experiment_id": eid, "key": k, "value": val} for k, val in tag_rows],
                    )
                return str(eid)

        return with_retry(txn)

    @staticmethod
    def _check_experiment_name_free(conn: Connection, name: str) -> None:
        taken = conn.execute(
            select(m.experiments.c.lifecycle_stage).where(m.experiments.c.name == name)
        ).scalar()
        if taken is not None:
            hint = " (it is deleted: restore it or pick another name)" if taken == "deleted" else ""
            raise _name_taken(name, hint)

    def _experiments(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Experiment]:
        ids = [row.experiment_id for row in rows]
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            for t in conn.execute(
                select(m.experiment_tags).where(m.experiment_tags.c.experiment_id.in_(ids))
            ):
                tags[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=LifecycleStage(row.lifecycle_stage),
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                tags=tags[row.experiment_id],
            )
            for row in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment with this id (active or deleted)."""
        eid = self.experiment_key(experiment_id)

        def read() -> Experiment:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(m.experiments).where(m.experiments.c.experiment_id == eid)
                ).first()
                if row is None:
                    raise NotFound(f"no experiment with id {experiment_id!r}")
                return self._experiments(conn, [row])[0]

        return with_retry(read)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or ``None``."""

        def read() -> Experiment | None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(m.experiments).where(m.experiments.c.name == name)
                ).first()
                return None if row is None else self._experiments(conn, [row])[0]

        return with_retry(read)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching ``filter_string`` (``name``, ``tags.*``, times)."""
        from tunetrack.search import parse_filter, parse_order_by
        from tunetrack.store.sql.filters import experiment_filter_clause, experiment_order_clauses

        v.validate_max_results(max_results)
        offset = PageToken.decode(page_token).offset
        query = select(m.experiments).where(
            m.experiments.c.lifecycle_stage.in_(
                [s.value for s in ViewType.parse(view_type).stages()]
            )
        )
        clause = experiment_filter_clause(parse_filter(filter_string))
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(*experiment_order_clauses(parse_order_by(order_by)))
        query = query.offset(offset).limit(max_results + 1)

        def read() -> PagedList[Experiment]:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
                more = len(rows) > max_results
                items = self._experiments(conn, rows[:max_results])
            return PagedList(items, PageToken(offset + max_results).encode() if more else None)

        return with_retry(read)

    def _set_experiment_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        eid = self.experiment_key(experiment_id)
        if eid == int(DEFAULT_EXPERIMENT_ID) and stage is LifecycleStage.DELETED:
            raise InvalidInput("the Default experiment (id 0) cannot be deleted")

        def txn() -> None:
            now = now_ms()
            with write_transaction(self._engine) as conn:
                done = conn.execute(
                    update(m.experiments)
                    .where(m.experiments.c.experiment_id == eid)
                    .values(
                        lifecycle_stage=stage.value,
                        last_update_time=now,
                        deleted_time=deleted_time(m.experiments, stage, now),
                    )
                ).rowcount
                if not done:
                    raise NotFound(f"no experiment with id {experiment_id!r}")
                conn.execute(
                    update(m.runs)
                    .where(m.runs.c.experiment_id == eid)
                    .values(
                        lifecycle_stage=stage.value, deleted_time=deleted_time(m.runs, stage, now)
                    )
                )

        with_retry(txn)

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment and its runs."""
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment` (its runs come back too)."""
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        eid = self.experiment_key(experiment_id)
        v.validate_name(new_name, "experiment", v.MAX_EXPERIMENT_NAME_LENGTH)

        def txn() -> None:
            with write_transaction(self._engine) as conn:
                self._check_experiment_name_free(conn, new_name)
                try:
                    done = conn.execute(
                        update(m.experiments)
                        .where(m.experiments.c.experiment_id == eid)
                        .values(name=new_name, last_update_time=now_ms())
                    ).rowcount
                except IntegrityError as exc:  # a concurrent transaction took the name
                    raise _name_taken(new_name) from exc
                if not done:
                    raise NotFound(f"no experiment with id {experiment_id!r}")

        with_retry(txn)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) one experiment tag."""
        eid = self.experiment_key(experiment_id)
        ((key, value),) = self._tag_values({key: value})

        def txn() -> None:
            with write_transaction(self._engine) as conn:
                self._require_experiment(conn, eid, experiment_id)
                stmt = self._insert(m.experiment_tags).values(
                    experiment_id=eid, key=key, value=value
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["experiment_id", "key"], set_={"value": value}
                    )
                )

        with_retry(txn)

    @staticmethod
    def _require_experiment(conn: Connection, eid: int, shown: str) -> str:
        stage: str | None = conn.execute(
            select(m.experiments.c.lifecycle_stage).where(m.experiments.c.experiment_id == eid)
        ).scalar()
        if stage is None:
            raise NotFound(f"no experiment with id {shown!r}")
        return stage
