"""Garbage collection of the SQL store: deleted experiments and runs removed for good.

What goes: every deleted experiment (with all its runs), every deleted run, and every
descendant of a run that goes (a deleted sweep takes its trials along, whatever their stage);
with ``cutoff``, only what was deleted at or before it; with ``scope``, only in those
experiments. A child deleted while its parent stays active goes alone.

What stays: a run that is the source of a registered model version (its files are the
model's), the runs above it (its tree stays whole) and its experiment; :class:`Plan` says why.
A run that would have gone only along with one that stays stays too.

The rows go first, in one transaction that locks them, then the files: a run restored
meanwhile is either kept whole or was already gone. A location whose files could not be
removed is reported (its rows are gone, its files are garbage to remove by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, Table, delete, select

from tunetrack.entities import LifecycleStage
from tunetrack.errors import InvalidInput, NotFound, TunetrackError
from tunetrack.store.artifacts import ArtifactRepository, clean_relpath
from tunetrack.store.artifacts_http import PROXY_ROOT
from tunetrack.store.sql import models as m
from tunetrack.store.sql.engine import chunks

_DELETED = LifecycleStage.DELETED.value
#: tables holding rows of a run, deleted before the run itself (after its points, which
#: belong to its series in latest_metrics)
RUN_TABLES: tuple[Table, ...] = (m.latest_metrics, m.params, m.tags)
#: tables holding rows of an experiment, deleted before the experiment itself
EXPERIMENT_TABLES: tuple[Table, ...] = (m.experiment_tags, m.experiment_permissions)


@dataclass(frozen=True)
class GcRun:
    """A run that goes: its id, experiment and artifact location."""

    run_id: str
    experiment_id: int
    artifact_uri: str


@dataclass
class Plan:
    """What one collection removes: runs children first, experiments, and why some stay."""

    runs: list[GcRun] = field(default_factory=list)
    experiments: dict[int, str] = field(default_factory=dict)  # id -> artifact_location
    kept: list[str] = field(default_factory=list)


def _locked(query: Select[Any], conn: Connection) -> Select[Any]:
    """``query`` locking its rows on PostgreSQL (SQLite's write transaction locks the file):
    a concurrent restore waits for the collection, then finds the row gone."""
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def plan(conn: Connection, cutoff: int | None, scope: Sequence[int] | None) -> Plan:
    """What goes (see the module docstring); NotFound for an experiment of ``scope`` that
    does not exist."""
    e, r = m.experiments.c, m.runs.c
    if scope is not None:
        exists = select(e.experiment_id).where(e.experiment_id.in_(scope))
        missing = sorted(set(scope) - set(conn.execute(exists).scalars()))
        if missing:
            raise NotFound(f"no experiment with id {str(missing[0])!r}")
    experiments = select(e.experiment_id, e.artifact_location).where(e.lifecycle_stage == _DELETED)
    runs = select(r.run_id, r.experiment_id, r.parent_run_id, r.artifact_uri)
    deleted_runs = runs.where(r.lifecycle_stage == _DELETED)
    if cutoff is not None:
        experiments = experiments.where(e.deleted_time <= cutoff)
        deleted_runs = deleted_runs.where(r.deleted_time <= cutoff)
    if scope is not None:
        experiments = experiments.where(e.experiment_id.in_(scope))
        deleted_runs = deleted_runs.where(r.experiment_id.in_(scope))
    result = Plan(experiments=dict(conn.execute(_locked(experiments, conn)).all()))
    found = {row.run_id: row for row in conn.execute(_locked(deleted_runs, conn))}
    seeds = set(found)
    in_experiments = (runs.where(r.experiment_id.in_(c)) for c in chunks(list(result.experiments)))
    frontier = _add_new(found, conn, in_experiments, list(found))
    while frontier:  # the descendants of every run that may go
        children = (runs.where(r.parent_run_id.in_(c)) for c in chunks(frontier))
        frontier = _add_new(found, conn, children, [])
    parent = {run_id: row.parent_run_id for run_id, row in found.items()}
    kept = _keep_model_sources(conn, parent, result)
    for run_id in sorted(kept):
        eid = found[run_id].experiment_id
        if result.experiments.pop(eid, None) is not None:
            result.kept.append(f"experiment {eid}: it holds run {run_id}, which stays")
    depth = {run_id: _depth(run_id, parent) for run_id in found}
    goes: dict[str, bool] = {}
    for run_id in sorted(found, key=depth.__getitem__):  # each parent before its children
        row = found[run_id]
        goes[run_id] = run_id not in kept and (
            run_id in seeds
            or row.experiment_id in result.experiments
            or goes.get(row.parent_run_id, False)
        )
    order = sorted((run_id for run_id in found if goes[run_id]), key=lambda i: -depth[i])
    result.runs = [
        GcRun(run_id, found[run_id].experiment_id, found[run_id].artifact_uri) for run_id in order
    ]
    return result


def _add_new(
    found: dict[str, Any], conn: Connection, queries: Iterator[Select[Any]], new: list[str]
) -> list[str]:
    """Add the rows of ``queries`` not in ``found`` yet; return ``new`` plus their ids."""
    for query in queries:
        for row in conn.execute(_locked(query, conn)):
            if row.run_id not in found:
                found[row.run_id] = row
                new.append(row.run_id)
    return new


def _depth(run_id: str, parent: dict[str, str | None]) -> int:
    """How many ancestors of ``run_id`` go too (a child goes before its parent)."""
    depth, seen = 0, {run_id}
    up = parent.get(run_id)
    while up is not None and up in parent and up not in seen:
        depth += 1
        seen.add(up)
        up = parent[up]
    return depth


def _keep_model_sources(conn: Connection, parent: dict[str, str | None], result: Plan) -> set[str]:
    """The runs that stay: sources of a model version and their ancestors (reasons added)."""
    v = m.model_versions.c
    sources: dict[str, list[str]] = {}
    for c in chunks(list(parent)):
        query = select(v.run_id, v.name, v.version).where(v.run_id.in_(c))
        for run_id, name, version in conn.execute(query.order_by(v.name, v.version)):
            sources.setdefault(run_id, []).append(f"{name!r} version {version}")
    kept: set[str] = set()
    for run_id, versions in sorted(sources.items()):
        result.kept.append(
            f"run {run_id}: the source of registered model {', '.join(versions)} "
            "(delete the model version first to collect it)"
        )
        kept.add(run_id)
        up = parent[run_id]
        while up in parent and up not in kept:
            result.kept.append(f"run {up}: an ancestor of run {run_id}, which stays")
            kept.add(up)
            up = parent[up]
    return kept


def delete_rows(conn: Connection, todo: Plan) -> dict[str, int]:
    """Delete the planned runs and experiments with their rows in every table; return the
    rows deleted per table."""
    counts: dict[str, int] = {}

    def remove(
        table: Table,
        column: str,
        keys: Sequence[object],
        of: Callable[[Sequence[object]], Any] = lambda chunk: chunk,
    ) -> None:
        """Delete the rows whose ``column`` is in ``of(chunk)`` for each chunk of ``keys``."""
        counts[table.name] = sum(
            conn.execute(delete(table).where(table.c[column].in_(of(c)))).rowcount
            for c in chunks(keys)
        )

    run_ids = [run.run_id for run in todo.runs]  # children first
    latest = m.latest_metrics.c

    def series_of_runs(runs: Sequence[object]) -> Select[Any]:
        return select(latest.series_id).where(latest.run_id.in_(runs))

    remove(m.metrics, "series_id", run_ids, of=series_of_runs)  # no ids fetched into Python
    for table in RUN_TABLES:
        remove(table, "run_id", run_ids)
    remove(m.runs, "run_id", run_ids)
    experiment_ids = list(todo.experiments)
    for table in EXPERIMENT_TABLES:
        remove(table, "experiment_id", experiment_ids)
    remove(m.experiments, "experiment_id", experiment_ids)
    return counts


def repository(uri: str, proxy_root: ArtifactRepository | None) -> ArtifactRepository:
    """The repository of an artifact location as the store recorded it; a server's
    ``tunetrack-artifacts:`` location lies under ``proxy_root`` (InvalidInput without one)."""
    if not uri.startswith(PROXY_ROOT):
        return ArtifactRepository(uri)
    if proxy_root is None:
        raise InvalidInput(
            "kept by a tunetrack server: run `tunetrack gc` with that server's URL as the "
            "tracking URI to remove its files"
        )
    rel = clean_relpath(uri[len(PROXY_ROOT) :].lstrip("/"))
    root = proxy_root.root_uri
    return ArtifactRepository(f"{root.rstrip('/')}/{rel}" if rel else root)


@dataclass
class Removed:
    """The artifact locations removed (with ``dry_run``: that would be) and those that failed."""

    locations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attempt(self, uri: str, act: Callable[[], bool]) -> None:
        """Run ``act`` on ``uri``: recorded when it says it removed something, or failed."""
        try:
            if act():
                self.locations.append(uri)
        except (OSError, TunetrackError) as exc:
            self.errors.append(f"{uri}: {exc}")


def remove_artifacts(
    todo: Plan, proxy_root: ArtifactRepository | None, *, dry_run: bool
) -> Removed:
    """Remove the files of the planned runs, then each planned experiment's location when
    nothing else is left in it (a location may be a directory the user named and shares)."""
    done = Removed()
    for run in todo.runs:

        def remove_run(uri: str = run.artifact_uri) -> bool:
            return _remove(repository(uri, proxy_root), dry_run)

        done.attempt(run.artifact_uri, remove_run)
    for eid, location in todo.experiments.items():
        runs = {run.run_id for run in todo.runs if run.experiment_id == eid}

        def empty_then_remove(location: str = location, runs: set[str] = runs) -> bool:
            repo = repository(location, proxy_root)
            left = [f for f in repo.list_artifacts() if f.path not in runs]
            return not left and _remove(repo, dry_run)

        done.attempt(location, empty_then_remove)
    return done


def _remove(repo: ArtifactRepository, dry_run: bool) -> bool:
    return repo.exists() if dry_run else repo.delete_all()
