"""The ``tunetrack`` command line: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from tunetrack.errors import TunetrackError

app = typer.Typer(
    name="tunetrack",
    help="Hyperparameter sweeps with their own experiment tracking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the tracking database.", no_args_is_help=True)
experiments_app = typer.Typer(
    help="List, create, delete and restore experiments.", no_args_is_help=True
)
runs_app = typer.Typer(help="List, show and delete runs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(experiments_app, name="experiments")
app.add_typer(runs_app, name="runs")

UriOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="TUNETRACK_TRACKING_URI",
        help="Tracking store URI (default: sqlite:///tunetrack.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_F = TypeVar("_F", bound=Callable[..., Any])


def _friendly(fn: _F) -> _F:
    """Turn tunetrack errors into one clear line on stderr and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TunetrackError as exc:
            typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _client(uri: str | None):  # type: ignore[no-untyped-def]
    from tunetrack.tracking.client import Client

    return Client(uri)


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_table(title: str, columns: Sequence[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# -- db ------------------------------------------------------------------------------------
@db_app.command("upgrade")
@_friendly
def db_upgrade(tracking_uri: UriOption = None) -> None:
    """Create or migrate the tracking schema to the newest revision."""
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.store.uri import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    SqlStore(uri, migrate=True).close()
    typer.echo(f"schema of {uri} is up to date")


# -- experiments -----------------------------------------------------------------------------
def _experiment_dict(e) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "lifecycle_stage": e.lifecycle_stage.value,
        "artifact_location": e.artifact_location,
        "creation_time": e.creation_time,
        "tags": dict(e.tags),
    }


@experiments_app.command("list")
@_friendly
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
    items = _client(tracking_uri).search_experiments(view, 50_000, filter_string)
    if as_json:
        _print_json([_experiment_dict(e) for e in items])
        return
    rows = [
        [e.experiment_id, e.name, e.lifecycle_stage.value, _time(e.creation_time)] for e in items
    ]
    _print_table("Experiments", ["id", "name", "stage", "created (UTC)"], rows)


@experiments_app.command("create")
@_friendly
def experiments_create(
    name: str,
    tracking_uri: UriOption = None,
    artifact_location: Annotated[str | None, typer.Option(help="Where its artifacts go.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an experiment and print its id."""
    experiment_id = _client(tracking_uri).create_experiment(name, artifact_location)
    if as_json:
        _print_json({"experiment_id": experiment_id, "name": name})
    else:
        typer.echo(f"created experiment {name!r} with id {experiment_id}")


@experiments_app.command("delete")
@_friendly
def experiments_delete(experiment_id: str, tracking_uri: UriOption = None) -> None:
    """Soft-delete an experiment and its runs (undo with restore)."""
    _client(tracking_uri).delete_experiment(experiment_id)
    typer.echo(f"deleted experiment {experiment_id}")


@experiments_app.command("restore")
@_friendly
def experiments_restore(experiment_id: str, tracking_uri: UriOption = None) -> None:
    """Restore a deleted experiment and its runs."""
    _client(tracking_uri).restore_experiment(experiment_id)
    typer.echo(f"restored experiment {experiment_id}")


# -- runs ------------------------------------------------------------------------------------
def _run_dict(run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "parent_run_id": info.parent_run_id,
        "artifact_uri": info.artifact_uri,
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
    }


def _experiment_ids(client, experiment: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    from tunetrack.errors import NotFound

    if experiment is None:
        return [e.experiment_id for e in client.search_experiments(max_results=50_000)]
    if experiment.isdigit():
        return [client.get_experiment(experiment).experiment_id]
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise NotFound(f"no experiment named {experiment!r}")
    return [found.experiment_id]


@runs_app.command("list")
@_friendly
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
    max_results: Annotated[int, typer.Option("--max-results", "-n")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, with a filter and sort in the search language."""
    client = _client(tracking_uri)
    runs = client.search_runs(
        _experiment_ids(client, experiment),
        filter_string,
        max_results=max_results,
        order_by=order_by,
    )
    if as_json:
        _print_json([_run_dict(r) for r in runs])
        return
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[:6]
    rows = [
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status.value,
            _time(r.info.start_time),
            *(f"{r.data.metrics[k]:.4g}" if k in r.data.metrics else "" for k in metric_keys),
        ]
        for r in runs
    ]
    _print_table("Runs", ["run_id", "name", "status", "started (UTC)", *metric_keys], rows)


@runs_app.command("show")
@_friendly
def runs_show(run_id: str, tracking_uri: UriOption = None, as_json: JsonOption = False) -> None:
    """Show one run: info, params, latest metrics and tags."""
    run = _client(tracking_uri).get_run(run_id)
    data = _run_dict(run)
    if as_json:
        _print_json(data)
        return
    info_rows = [[k, "" if data[k] is None else str(data[k])] for k in list(data)[:8]]
    _print_table(f"Run {run_id}", ["field", "value"], info_rows)
    for section in ("params", "metrics", "tags"):
        if data[section]:
            _print_table(
                section, ["key", "value"], [[k, str(v)] for k, v in sorted(data[section].items())]
            )


@runs_app.command("delete")
@_friendly
def runs_delete(run_id: str, tracking_uri: UriOption = None) -> None:
    """Soft-delete a run."""
    _client(tracking_uri).delete_run(run_id)
    typer.echo(f"deleted run {run_id}")


def main() -> None:
    """Console-script entry point."""
    app()
