"""CLI commands over the tracking store: ``db``, ``experiments`` and ``runs``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunetrack.cli._common import (
    RUN_ATTRIBUTES,
    Column,
    JsonOption,
    UriOption,
    client,
    duration,
    friendly,
    print_json,
    print_records,
    print_table,
    run_dict,
    run_value,
    short_id,
    text,
    when,
)

if TYPE_CHECKING:
    from tunetrack.entities import Experiment, Run
    from tunetrack.tracking.client import Client

db_app = typer.Typer(help="Manage the tracking database.", no_args_is_help=True)
experiments_app = typer.Typer(
    help="List, create, delete and restore experiments.", no_args_is_help=True
)
runs_app = typer.Typer(help="List, show, compare, delete and restore runs.", no_args_is_help=True)


# -- db ------------------------------------------------------------------------------------
@db_app.command("upgrade")
@friendly
def db_upgrade(
    tracking_uri: UriOption = None,
    artifact_root: Annotated[
        str | None,
        typer.Option(
            "--artifact-root",
            help="Where new experiments keep their artifacts (a directory or an fsspec URL), "
            "recorded in the store for every client. A new store records "
            "$TUNETRACK_ARTIFACT_ROOT, else a directory beside a SQLite file or "
            "./tunetrack-artifacts.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create or migrate the tracking schema to the newest revision; record the artifact root."""
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.store.tracking_uri import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    store = SqlStore(uri, artifact_root, migrate=True)
    store.close()
    typer.echo(f"schema of {uri} is up to date")
    typer.echo(f"new experiments keep their artifacts in {store.artifact_root}")


# -- experiments -----------------------------------------------------------------------------
def _experiment_dict(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "lifecycle_stage": e.lifecycle_stage.value,
        "artifact_location": e.artifact_location,
        "creation_time": e.creation_time,
        "tags": dict(e.tags),
    }


_EXPERIMENT_COLUMNS = (
    Column("experiment_id"),
    Column("name"),
    Column("lifecycle_stage"),
    Column("artifact_location", rank=2),
    Column("creation_time", when),
    Column("tags", rank=3),
)


@experiments_app.command("list")
@friendly
def experiments_list(
    tracking_uri: UriOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    filter_string: Annotated[
        str | None, typer.Option("--filter", help="e.g. \"name LIKE 'iris%'\"")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List experiments."""
    from tunetrack.entities import ViewType

    view = ViewType.ALL if all_ else ViewType.ACTIVE_ONLY
    items = client(tracking_uri).search_experiments(view, 50_000, filter_string)
    records = [_experiment_dict(e) for e in items]
    if as_json:
        print_json(records)
        return
    print_records("Experiments", _EXPERIMENT_COLUMNS, records)


@experiments_app.command("create")
@friendly
def experiments_create(
    name: str,
    tracking_uri: UriOption = None,
    artifact_location: Annotated[str | None, typer.Option(help="Where its artifacts go.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an experiment and print its id."""
    experiment_id = client(tracking_uri).create_experiment(name, artifact_location)
    if as_json:
        print_json({"experiment_id": experiment_id, "name": name})
    else:
        typer.echo(f"created experiment {name!r} with id {experiment_id}")


@experiments_app.command("delete")
@friendly
def experiments_delete(experiment_id: str, tracking_uri: UriOption = None) -> None:
    """Soft-delete an experiment and its runs (undo with restore)."""
    client(tracking_uri).delete_experiment(experiment_id)
    typer.echo(f"deleted experiment {experiment_id}")


@experiments_app.command("restore")
@friendly
def experiments_restore(experiment_id: str, tracking_uri: UriOption = None) -> None:
    """Restore a deleted experiment and its runs."""
    client(tracking_uri).restore_experiment(experiment_id)
    typer.echo(f"restored experiment {experiment_id}")


# -- runs ------------------------------------------------------------------------------------
def _experiment_ids(client: Client, experiment: str | None) -> list[str]:
    from tunetrack.errors import NotFound

    if experiment is None:
        return [e.experiment_id for e in client.search_experiments(max_results=50_000)]
    if experiment.isdigit():
        return [client.get_experiment(experiment).experiment_id]
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise NotFound(f"no experiment named {experiment!r}")
    return [found.experiment_id]


_SECTIONS = ("params", "metrics", "tags")
_SECTION_OF = {"param": "params", "metric": "metrics", "tag": "tags"}  # search entity -> section
_SHOW = {"start_time": when, "end_time": when, "duration": duration}
_ALWAYS = ("run_id", "run_name", "status", "start_time")  # in runs list, besides duration


def _run_column(key: str, rank: int) -> Column:
    if key in ("run_id", "parent_run_id"):
        return Column(key, short_id, rank)
    return Column(key, _SHOW.get(key, text), rank)


def _sort_columns(order_by: list[str] | None) -> list[str]:
    """The columns ``--order-by`` sorts by."""
    from tunetrack.search import parse_order_by

    found = []
    for key in parse_order_by(order_by):
        if key.entity in _SECTION_OF:
            found.append(f"{_SECTION_OF[key.entity]}.{key.key}")
        elif key.key in RUN_ATTRIBUTES:
            found.append(key.key)
    return found


def _default_columns(runs: Sequence[Run], sort: list[str]) -> list[Column]:
    """Name, status and times, then params, then metrics, the sort columns first in each;
    the terminal shows the sort columns before duration, params before metrics."""
    keys = [*_ALWAYS, "duration", *(c for c in sort if c in RUN_ATTRIBUTES)]
    for section in ("params", "metrics"):
        logged = sorted({f"{section}.{k}" for r in runs for k in getattr(r.data, section)})
        keys += [c for c in sort if c.startswith(f"{section}.")] + logged
    keys += [c for c in sort if c.startswith("tags.")]
    ranks = {"duration": 2, "params": 3, "metrics": 4}

    def rank(key: str) -> int:
        if key in _ALWAYS:
            return 0
        return 1 if key in sort else ranks[key.partition(".")[0]]

    return [_run_column(key, rank(key)) for key in dict.fromkeys(keys)]


def _chosen_columns(spec: list[str]) -> list[Column]:
    """The columns of ``--columns`` (comma-separated, repeatable), run_id first."""
    from tunetrack.errors import InvalidInput

    keys = ["run_id"]
    for key in (k.strip() for item in spec for k in item.split(",")):
        section, _, name = key.partition(".")
        if section in _SECTIONS and name.strip("`"):
            keys.append(f"{section}.{name.strip('`')}")
        elif key in RUN_ATTRIBUTES:
            keys.append(key)
        elif key:
            raise InvalidInput(
                f"unknown column {key!r}: use {', '.join(RUN_ATTRIBUTES)}, "
                "params.<key>, metrics.<key> or tags.<key>"
            )
    return [_run_column(key, 0) for key in dict.fromkeys(keys)]


@runs_app.command("list")
@friendly
def runs_list(
    tracking_uri: UriOption = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Name or id.")
    ] = None,
    filter_string: Annotated[
        str | None, typer.Option("--filter", help='e.g. "metrics.acc > 0.9"')
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help="e.g. 'metrics.acc DESC'")
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            help="The columns to show, comma-separated, e.g. params.max_depth,metrics.acc,"
            f"tags.team (run_id comes first); also {', '.join(RUN_ATTRIBUTES[1:])}.",
        ),
    ] = None,
    max_results: Annotated[int, typer.Option("--max-results", "-n")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, with a filter and sort in the search language.

    Without --columns: name, status, start time and duration, then the sort columns, the
    params and the metrics that fit the terminal (--json has them all).
    """
    c = client(tracking_uri)
    sort = _sort_columns(order_by)
    runs = c.search_runs(
        _experiment_ids(c, experiment),
        filter_string,
        max_results=max_results,
        order_by=order_by,
    )
    shown = _chosen_columns(columns) if columns else _default_columns(runs, sort)
    records = [{column.key: run_value(r, column.key) for column in shown} for r in runs]
    if as_json:
        print_json(records)
        return
    print_records(
        "Runs", shown, records, hint="pick with --columns params.a,metrics.b or see all with --json"
    )


def _full_run_id(c: Client, run_id: str, *, deleted: bool = False) -> str:
    """The id of the one run whose id starts with ``run_id`` (as tables show it, see
    :func:`short_id`), among the deleted runs with ``deleted``; ``run_id`` itself when it is
    whole or starts no such run's id."""
    from tunetrack.entities import ViewType
    from tunetrack.errors import InvalidInput

    if len(run_id) >= 32 or not run_id.isalnum():
        return run_id
    view = ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    found = c.search_runs(
        _experiment_ids(c, None), f"run_id LIKE '{run_id}%'", run_view_type=view, max_results=2
    )
    if len(found) > 1:
        raise InvalidInput(f"several runs' ids start with {run_id!r}: give more of it")
    return found[0].info.run_id if found else run_id


@runs_app.command("show")
@friendly
def runs_show(run_id: str, tracking_uri: UriOption = None, as_json: JsonOption = False) -> None:
    """Show one run (by its id or the start of it): info, params, latest metrics and tags."""
    c = client(tracking_uri)
    run = c.get_run(_full_run_id(c, run_id))
    data = run_dict(run)
    if as_json:
        print_json(data)
        return
    info_rows = [[k, _SHOW.get(k, text)(data[k])] for k in RUN_ATTRIBUTES]
    print_table(f"Run {run.info.run_id}", ["field", "value"], info_rows)
    for section in ("params", "metrics", "tags"):
        if data[section]:
            print_table(
                section, ["key", "value"], [[k, str(v)] for k, v in sorted(data[section].items())]
            )


@runs_app.command("compare")
@friendly
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    tracking_uri: UriOption = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Also rows that are equal.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare runs side by side: params and metrics that differ (all with --all)."""
    c = client(tracking_uri)
    runs = [c.get_run(_full_run_id(c, r)) for r in run_ids]
    if as_json:
        print_json([run_dict(r) for r in runs])
        return
    rows = []
    for section in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r.data, section)})
        for key in keys:
            values = [getattr(r.data, section).get(key) for r in runs]
            if all_keys or len({repr(v) for v in values}) > 1:
                shown = [
                    "" if v is None else f"{v:.6g}" if isinstance(v, float) else v for v in values
                ]
                rows.append([f"{section}.{key}", *shown])
    names = [f"{r.info.run_name} ({r.info.run_id[:8]})" for r in runs]
    print_table("Compare runs", ["key", *names], rows)


@runs_app.command("delete")
@friendly
def runs_delete(run_id: str, tracking_uri: UriOption = None) -> None:
    """Soft-delete a run (by its id or the start of it)."""
    c = client(tracking_uri)
    run_id = _full_run_id(c, run_id)
    c.delete_run(run_id)
    typer.echo(f"deleted run {run_id}")


@runs_app.command("restore")
@friendly
def runs_restore(run_id: str, tracking_uri: UriOption = None) -> None:
    """Restore a deleted run (by its id or the start of it)."""
    c = client(tracking_uri)
    run_id = _full_run_id(c, run_id, deleted=True)
    c.restore_run(run_id)
    typer.echo(f"restored run {run_id}")
