"""Model-registry operations of the SQL store."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import GenerativeSelect

from tunetrack import _validation as v
from tunetrack._clock import now_ms
from tunetrack.entities import ModelStage, ModelVersion, PagedList, RegisteredModel
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import with_retry, write_transaction
from tunetrack.store.sql.paging import PageToken

_mv = m.model_versions.c
_rm = m.registered_models.c
_SHA256 = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")
_Q = TypeVar("_Q", bound=GenerativeSelect)


def _locked(query: _Q, lock: bool) -> _Q:
    return query.with_for_update(read=True, key_share=True) if lock else query


class RegistryMixin:
    """Registered models, versions, tags, aliases and stages on SQLAlchemy."""

    _engine: Engine
    _insert: Callable[..., Any]  # the dialect's insert(), which has on_conflict_*
    _tag_values: Callable[[Mapping[str, object]], list[tuple[str, str]]]

    # -- reading helpers -------------------------------------------------------------------
    def _read(self, fn: Callable[[Connection], _T]) -> _T:
        def run() -> _T:
            with self._engine.connect() as conn:
                return fn(conn)

        return with_retry(run)

    def _write(self, fn: Callable[[Connection], _T]) -> _T:
        def run() -> _T:
            with write_transaction(self._engine) as conn:
                return fn(conn)

        return with_retry(run)

    @staticmethod
    def _model_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
        """The model's row; ``lock`` keeps it from being deleted until the transaction ends
        (PostgreSQL; SQLite's write transactions are serial), so rows written under it stay
        valid."""
        query = select(m.registered_models).where(_rm.name == name)
        row = conn.execute(_locked(query, lock)).first()
        if row is None:
            raise NotFound(f"no registered model named {name!r}")
        return row

    @staticmethod
    def _registered_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        tags: dict[str, dict[str, str]] = {n: {} for n in names}
        aliases: dict[str, dict[str, int]] = {n: {} for n in names}
        latest: dict[str, int] = {}
        if names:
            for t in conn.execute(
                select(m.registered_model_tags).where(m.registered_model_tags.c.name.in_(names))
            ):
                tags[t.name][t.key] = t.value
            for a in conn.execute(select(m.model_aliases).where(m.model_aliases.c.name.in_(names))):
                aliases[a.name][a.alias] = a.version
            latest = dict(
                conn.execute(
                    select(_mv.name, func.max(_mv.version))
                    .where(_mv.name.in_(names))
                    .group_by(_mv.name)
                ).all()
            )
        return [
            RegisteredModel(
                name=r.name,
                description=r.description,
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                latest_version=latest.get(r.name),
                tags=tags[r.name],
                aliases=aliases[r.name],
            )
            for r in rows
        ]

    @staticmethod
    def _versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
        keys = {(r.name, r.version) for r in rows}
        names = sorted({r.name for r in rows})
        tags: dict[tuple[str, int], dict[str, str]] = {k: {} for k in keys}
        aliases: dict[tuple[str, int], list[str]] = {k: [] for k in keys}
        if names:
            for t in conn.execute(
                select(m.model_version_tags).where(m.model_version_tags.c.name.in_(names))
            ):
                if (t.name, t.version) in keys:
                    tags[(t.name, t.version)][t.key] = t.value
            for a in conn.execute(select(m.model_aliases).where(m.model_aliases.c.name.in_(names))):
                if (a.name, a.version) in keys:
                    aliases[(a.name, a.version)].append(a.alias)
        return [
            ModelVersion(
                name=r.name,
                version=r.version,
                source=r.source,
                run_id=r.run_id,
                status=r.status,
                current_stage=ModelStage(r.current_stage),
                description=r.description,
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                tags=tags[(r.name, r.version)],
                aliases=tuple(sorted(aliases[(r.name, r.version)])),
                manifest_sha256=r.manifest_sha256,
            )
            for r in rows
        ]

    def _version_row(
        self, conn: Connection, name: str, version: object, *, lock: bool = False
    ) -> Any:
        """The version's row (``lock``: as in :meth:`_model_row`)."""
        number = v.version_number(version)
        query = select(m.model_versions).where(_mv.name == name, _mv.version == number)
        row = conn.execute(_locked(query, lock)).first()
        if row is None:
            self._model_row(conn, name)
            raise NotFound(f"registered model {name!r} has no version {number}")
        return row

    # -- registered models -----------------------------------------------------------------
    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a model name (Conflict if it exists)."""
        v.validate_name(name, "registered model", 256)
        description = v.validate_text(description or "", "registered model description")
        if "/" in name or "@" in name:
            raise InvalidInput(
                f"registered model name {name!r} cannot contain '/' or '@' (models:/ URIs use them)"
            )
        tag_rows = self._tag_values(tags or {})

        def txn(conn: Connection) -> RegisteredModel:
            now = now_ms()
            try:
                conn.execute(
                    insert(m.registered_models).values(
                        name=name,
                        description=description,
                        creation_time=now,
                        last_updated_time=now,
                    )
                )
            except IntegrityError as exc:
                raise Conflict(f"a registered model named {name!r} already exists") from exc
            if tag_rows:
                conn.execute(
                    insert(m.registered_model_tags),
                    [{"name": name, "key": k, "value": val} for k, val in tag_rows],
                )
            return self._registered_models(conn, [self._model_row(conn, name)])[0]

        return self._write(txn)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its tags, aliases and latest version number."""
        return self._read(lambda c: self._registered_models(c, [self._model_row(c, name)])[0])

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching a filter on ``name`` or ``tags.*``, by name."""
        from tunetrack.search import parse_filter
        from tunetrack.store.sql.filters import registered_model_filter_clause

        v.validate_max_results(max_results)
        offset = PageToken.decode(page_token).offset
        query = select(m.registered_models)
        clause = registered_model_filter_clause(parse_filter(filter_string))
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(_rm.name).offset(offset).limit(max_results + 1)

        def read(conn: Connection) -> PagedList[RegisteredModel]:
            rows = conn.execute(query).all()
            items = self._registered_models(conn, rows[:max_results])
            more = len(rows) > max_results
            return PagedList(items, PageToken(offset + max_results).encode() if more else None)

        return self._read(read)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Change a registered model's description."""
        v.validate_text(description, "registered model description")

        def txn(conn: Connection) -> RegisteredModel:
            self._model_row(conn, name)
            conn.execute(
                update(m.registered_models)
                .where(_rm.name == name)
                .values(description=description, last_updated_time=now_ms())
            )
            return self._registered_models(conn, [self._model_row(conn, name)])[0]

        return self._write(txn)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model name with all its versions, tags and aliases (the foreign keys
        cascade)."""

        def txn(conn: Connection) -> None:
            self._model_row(conn, name)
            conn.execute(delete(m.registered_models).where(_rm.name == name))

        self._write(txn)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""
        ((key, value),) = self._tag_values({key: value})

        def txn(conn: Connection) -> None:
            self._model_row(conn, name, lock=True)
            stmt = self._insert(m.registered_model_tags).values(name=name, key=key, value=value)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["name", "key"], set_={"value": value})
            )

        self._write(txn)

    # -- versions ----------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        manifest_sha256: str | None = None,
        request_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of an existing model, once per
        ``request_id`` (without one, once per call: a retry after a lost COMMIT answer finds
        the version it registered)."""
        request_id = (
            uuid.uuid4().hex if request_id is None else v.validate_id(request_id, "request_id")
        )
        if not source:
            raise InvalidInput("a model version needs a source (where its files are)")
        v.validate_text(source, "model version source")
        description = v.validate_text(description or "", "model version description")
        if manifest_sha256 is not None and not _SHA256.fullmatch(manifest_sha256):
            raise InvalidInput(
                f"manifest_sha256 must be 64 lowercase hex digits, got {manifest_sha256!r}"
            )
        tag_rows = self._tag_values(tags or {})

        def txn(conn: Connection) -> ModelVersion:
            done = conn.execute(
                select(_mv.version).where(_mv.name == name, _mv.request_id == request_id)
            ).scalar()
            if done is not None:  # registered by this call's first attempt
                return self._versions(conn, [self._version_row(conn, name, done)])[0]
            if run_id is not None:
                _hold_source_run(conn, run_id)
            # the row update takes the model's row lock: concurrent registrations queue here
            number = conn.execute(
                update(m.registered_models)
                .where(_rm.name == name)
                .values(last_version=_rm.last_version + 1)
                .returning(_rm.last_version)
            ).scalar()
            if number is None:
                raise NotFound(f"no registered model named {name!r}")
            now = now_ms()
            conn.execute(
                insert(m.model_versions).values(
                    name=name,
                    version=number,
                    source=source,
                    run_id=run_id,
                    status="READY",
                    current_stage=ModelStage.NONE.value,
                    description=description,
                    creation_time=now,
                    last_updated_time=now,
                    manifest_sha256=manifest_sha256,
                    request_id=request_id,
                )
            )
            if tag_rows:
                conn.execute(
                    insert(m.model_version_tags),
                    [
                        {"name": name, "version": number, "key": k, "value": val}
                        for k, val in tag_rows
                    ],
                )
            conn.execute(
                update(m.registered_models).where(_rm.name == name).values(last_updated_time=now)
            )
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

        return self._write(txn)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a model."""
        return self._read(lambda c: self._versions(c, [self._version_row(c, name, version)])[0])

    def get_latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version of a model."""

        def read(conn: Connection) -> ModelVersion:
            self._model_row(conn, name)
            number = conn.execute(select(func.max(_mv.version)).where(_mv.name == name)).scalar()
            if number is None:
                raise NotFound(f"registered model {name!r} has no versions yet")
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

        return self._read(read)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching a filter on ``name``, ``version``, ``run_id``, ``current_stage``."""
        from tunetrack.search import parse_filter
        from tunetrack.store.sql.filters import model_version_filter_clause

        v.validate_max_results(max_results)
        offset = PageToken.decode(page_token).offset
        query = select(m.model_versions)
        clause = model_version_filter_clause(parse_filter(filter_string))
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(_mv.name, _mv.version.desc()).offset(offset).limit(max_results + 1)

        def read(conn: Connection) -> PagedList[ModelVersion]:
            rows = conn.execute(query).all()
            items = self._versions(conn, rows[:max_results])
            more = len(rows) > max_results
            return PagedList(items, PageToken(offset + max_results).encode() if more else None)

        return self._read(read)

    def _update_version(self, name: str, version: int | str, **values: Any) -> ModelVersion:
        def txn(conn: Connection) -> ModelVersion:
            row = self._version_row(conn, name, version)
            conn.execute(
                update(m.model_versions)
                .where(_mv.name == name, _mv.version == row.version)
                .values(**values, last_updated_time=now_ms())
            )
            return self._versions(conn, [self._version_row(conn, name, row.version)])[0]

        return self._write(txn)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Change a version's description."""
        v.validate_text(description, "model version description")
        return self._update_version(name, version, description=description)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: ModelStage,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version to a stage, optionally archiving the others in that stage."""
        stage = ModelStage.parse(stage)
        number = v.version_number(version)
        if archive_existing_versions and stage not in (ModelStage.STAGING, ModelStage.PRODUCTION):
            raise InvalidInput("archive_existing_versions applies to Staging and Production only")

        def txn(conn: Connection) -> ModelVersion:
            self._version_row(conn, name, number)
            now = now_ms()
            if archive_existing_versions:
                conn.execute(
                    update(m.model_versions)
                    .where(_mv.name == name, _mv.version != number, _mv.current_stage == stage)
                    .values(current_stage=ModelStage.ARCHIVED.value, last_updated_time=now)
                )
            conn.execute(
                update(m.model_versions)
                .where(_mv.name == name, _mv.version == number)
                .values(current_stage=stage.value, last_updated_time=now)
            )
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

        return self._write(txn)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete one version (its tags and aliases go with it: the foreign keys cascade)."""

        def txn(conn: Connection) -> None:
            row = self._version_row(conn, name, version)
            conn.execute(
                delete(m.model_versions).where(_mv.name == name, _mv.version == row.version)
            )

        self._write(txn)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        """Set one tag of a model version."""
        ((key, value),) = self._tag_values({key: value})

        def txn(conn: Connection) -> None:
            row = self._version_row(conn, name, version, lock=True)
            stmt = self._insert(m.model_version_tags).values(
                name=name, version=row.version, key=key, value=value
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name", "version", "key"], set_={"value": value}
                )
            )

        self._write(txn)

    # -- aliases -------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version`` (moving it atomically if it pointed elsewhere)."""
        v.validate_key(alias, "alias")
        if alias.isdigit() or alias.lower() == "latest":
            raise InvalidInput(f"alias {alias!r} is reserved: it would read as a version")
        if "/" in alias or "@" in alias:
            raise InvalidInput(
                f"alias {alias!r} cannot contain '/' or '@' (models:/ URIs use them)"
            )

        def txn(conn: Connection) -> None:
            row = self._version_row(conn, name, version, lock=True)
            stmt = self._insert(m.model_aliases).values(name=name, alias=alias, version=row.version)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name", "alias"], set_={"version": row.version}
                )
            )

        self._write(txn)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

        def txn(conn: Connection) -> None:
            self._model_row(conn, name)
            done = conn.execute(
                delete(m.model_aliases).where(
                    m.model_aliases.c.name == name, m.model_aliases.c.alias == alias
                )
            ).rowcount
            if not done:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")

        self._write(txn)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""

        def read(conn: Connection) -> ModelVersion:
            self._model_row(conn, name)
            number = conn.execute(
                select(m.model_aliases.c.version).where(
                    m.model_aliases.c.name == name, m.model_aliases.c.alias == alias
                )
            ).scalar()
            if number is None:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            return self._versions(conn, [self._version_row(conn, name, number)])[0]

        return self._read(read)


def _hold_source_run(conn: Connection, run_id: str) -> None:
    """Check that a version's run exists and keep it from ``tunetrack gc`` until the
    version is committed (gc keeps the runs that versions come from, and their files).

    On PostgreSQL the run's row is share-locked: gc, which locks the runs it removes for
    update, waits for the version and then keeps the run; a registration that finds gc
    holding the row waits, and if gc removed the run it is refused like any missing run.
    SQLite's write transactions exclude gc already.
    """
    row = select(m.runs.c.run_id).where(m.runs.c.run_id == run_id)
    if conn.dialect.name == "postgresql":
        row = row.with_for_update(read=True)
    if conn.execute(row).first() is None:
        raise NotFound(f"no run with id {run_id!r} (a deleted run is kept only until tunetrack gc)")
