"""CLI commands over the model registry: ``models list|show|alias|stage|serve``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunetrack.cli._common import (
    Column,
    JsonOption,
    UriOption,
    client,
    friendly,
    print_json,
    print_records,
    short_id,
    size_option,
    when,
)

if TYPE_CHECKING:
    from tunetrack.entities import ModelVersion, PagedList, RegisteredModel

models_app = typer.Typer(
    help="List registered models, move aliases and stages, serve a model.",
    no_args_is_help=True,
)


def _model_dict(m: RegisteredModel) -> dict[str, Any]:
    return {
        "name": m.name,
        "description": m.description,
        "latest_version": m.latest_version,
        "aliases": dict(m.aliases),
        "tags": dict(m.tags),
        "creation_time": m.creation_time,
        "last_updated_time": m.last_updated_time,
    }


def _version_dict(v: ModelVersion) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "current_stage": v.current_stage.value,
        "aliases": list(v.aliases),
        "run_id": v.run_id,
        "source": v.source,
        "manifest_sha256": v.manifest_sha256,
        "status": v.status,
        "description": v.description,
        "tags": dict(v.tags),
        "creation_time": v.creation_time,
        "last_updated_time": v.last_updated_time,
    }


_MODEL_COLUMNS = (
    Column("name"),
    Column("latest_version"),
    Column("aliases"),
    Column("last_updated_time", when),
    Column("creation_time", when, rank=1),
    Column("description", rank=2),
    Column("tags", rank=3),
)
_VERSION_COLUMNS = (  # a version's name is the table's title
    Column("version"),
    Column("current_stage"),
    Column("aliases"),
    Column("run_id", short_id),
    Column("creation_time", when),
    Column("source", rank=1),
    Column("status", rank=2),
    Column("description", rank=2),
    Column("last_updated_time", when, rank=3),
    Column("tags", rank=3),
    Column("manifest_sha256", rank=4),
)


def _all_pages(
    search: Callable[[str | None, int, str | None], PagedList[Any]], filter_string: str | None
) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        page = search(filter_string, 1000, token)
        items.extend(page)
        token = page.token
        if token is None:
            return items


@models_app.command("list")
@friendly
def models_list(
    tracking_uri: UriOption = None,
    filter_string: Annotated[
        str | None, typer.Option("--filter", help="e.g. \"name LIKE 'iris%'\"")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List registered models with their latest version and aliases."""
    items = _all_pages(client(tracking_uri).search_registered_models, filter_string)
    records = [_model_dict(m) for m in items]
    if as_json:
        print_json(records)
        return
    print_records("Registered models", _MODEL_COLUMNS, records)


@models_app.command("show")
@friendly
def models_show(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a registered model's versions: stage, aliases, source run."""
    c = client(tracking_uri)
    model = c.get_registered_model(name)  # NotFound for an unknown name
    escaped = name.replace("'", "''")
    versions = _all_pages(c.search_model_versions, f"name = '{escaped}'")
    records = [_version_dict(v) for v in versions]
    if as_json:
        print_json({**_model_dict(model), "versions": records})
        return
    if model.description:
        typer.echo(model.description)
    print_records(f"Model {name}", _VERSION_COLUMNS, records)


@models_app.command("alias")
@friendly
def models_alias(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. champion.")],
    version: Annotated[
        int | None, typer.Argument(help="Version the alias should point at.", show_default=False)
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias instead.")] = False,
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Point ALIAS at VERSION (moving it if it pointed elsewhere), or --delete it."""
    from tunetrack.errors import InvalidInput

    c = client(tracking_uri)
    if delete:
        if version is not None:
            raise InvalidInput("give either a VERSION or --delete, not both")
        c.delete_registered_model_alias(name, alias)
        if as_json:
            print_json({"name": name, "alias": alias, "deleted": True})
        else:
            typer.echo(f"removed alias {alias!r} of {name}")
        return
    if version is None:
        raise InvalidInput("give the VERSION the alias should point at (or --delete)")
    c.set_registered_model_alias(name, alias, version)
    moved = c.get_model_version_by_alias(name, alias)
    if as_json:
        print_json({"name": name, "alias": alias, "version": moved.version})
    else:
        typer.echo(f"{name}@{alias} -> version {moved.version}")


@models_app.command("stage")
@friendly
def models_stage(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(help="Version to move.")],
    stage: Annotated[str, typer.Argument(help="None, Staging, Production or Archived.")],
    archive_existing: Annotated[
        bool,
        typer.Option(
            "--archive-existing", help="Archive the other versions already in that stage."
        ),
    ] = False,
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move VERSION of NAME to STAGE."""
    moved = client(tracking_uri).transition_model_version_stage(
        name, version, stage, archive_existing_versions=archive_existing
    )
    if as_json:
        print_json(_version_dict(moved))
    else:
        typer.echo(f"{name} version {moved.version} is now in {moved.current_stage.value}")


@models_app.command("serve")
@friendly
def models_serve(
    model_uri: Annotated[
        str,
        typer.Argument(
            help="runs:/<run_id>/model, models:/<name>/<version>, models:/<name>@<alias>, "
            "models:/<name>/<stage> (e.g. Production) or models:/<name>/latest"
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 5001,
    max_body_size: Annotated[
        int | None,
        typer.Option(
            parser=size_option,
            metavar="SIZE",
            help="Largest request body accepted (default 100MB); a bigger one gets HTTP 413 "
            "before it is read. Bytes or a size like 512k, 100MB, 1G (k, M, G are powers of "
            "1024).",
            show_default=False,
        ),
    ] = None,
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Serve a model over HTTP: GET /health, POST /invocations."""
    import tunetrack
    from tunetrack.models.serving import DEFAULT_MAX_BODY_SIZE, create_app, run

    if tracking_uri:
        tunetrack.set_tracking_uri(tracking_uri)
    # load errors become one line before the server starts
    app = create_app(model_uri, max_body_size=max_body_size or DEFAULT_MAX_BODY_SIZE)
    loaded = app.state.loaded
    if as_json:
        print_json(
            {
                "model_uri": model_uri,
                "resolved_uri": loaded.resolved_uri,
                "model_version": loaded.version,
                "flavor": loaded.manifest.flavor,
                "url": f"http://{host}:{port}",
            }
        )
    else:
        typer.echo(f"serving {model_uri} ({loaded.resolved_uri}) on http://{host}:{port}")
    run(app, host, port)
