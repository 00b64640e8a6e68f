"""CLI commands over the tracking store: ``db``, ``experiments`` and ``runs``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tunetrack.cli._common import (
    JsonOption,
    UriOption,
    client,
    friendly,
    print_json,
    print_table,
    run_dict,
    when,
)

db_app = typer.Typer(help="Manage the tracking database.", no_args_is_help=True)
experiments_app = typer.Typer(
    help="List, create, delete and restore experiments.", no_args_is_help=True
)
runs_app = typer.Typer(help="List, show, compare and delete runs.", no_args_is_help=True)


# -- db ------------------------------------------------------------------------------------
@db_app.command("upgrade")
@friendly
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
    if as_json:
        print_json([_experiment_dict(e) for e in items])
        return
    rows = [
        [e.experiment_id, e.name, e.lifecycle_stage.value, when(e.creation_time)] for e in items
    ]
    print_table("Experiments", ["id", "name", "stage", "created (UTC)"], rows)


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
    max_results: Annotated[int, typer.Option("--max-results", "-n")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, with a filter and sort in the search language."""
    c = client(tracking_uri)
    runs = c.search_runs(
        _experiment_ids(c, experiment),
        filter_string,
        max_results=max_results,
        order_by=order_by,
    )
    if as_json:
        print_json([run_dict(r) for r in runs])
        return
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[:6]
    rows = [
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status.value,
            when(r.info.start_time),
            *(f"{r.data.metrics[k]:.4g}" if k in r.data.metrics else "" for k in metric_keys),
        ]
        for r in runs
    ]
    print_table("Runs", ["run_id", "name", "status", "started (UTC)", *metric_keys], rows)


@runs_app.command("show")
@friendly
def runs_show(run_id: str, tracking_uri: UriOption = None, as_json: JsonOption = False) -> None:
    """Show one run: info, params, latest metrics and tags."""
    run = client(tracking_uri).get_run(run_id)
    data = run_dict(run)
    if as_json:
        print_json(data)
        return
    info_rows = [[k, "" if data[k] is None else str(data[k])] for k in list(data)[:8]]
    print_table(f"Run {run_id}", ["field", "value"], info_rows)
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
    runs = [c.get_run(r) for r in run_ids]
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
    """Soft-delete a run."""
    client(tracking_uri).delete_run(run_id)
    typer.echo(f"deleted run {run_id}")
