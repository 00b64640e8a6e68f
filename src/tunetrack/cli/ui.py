"""``tunetrack ui``: the web UI over the local tracking store, on 127.0.0.1 by default."""

from __future__ import annotations

from typing import Annotated

import typer

from tunetrack.cli._common import friendly


@friendly
def ui_command(
    backend_store_uri: Annotated[
        str | None,
        typer.Option(
            help="The store to show: sqlite:///path.db or postgresql://user@host/db "
            "(default: $TUNETRACK_TRACKING_URI or ./tunetrack.db).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind (anything but loopback is open to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 5000,
) -> None:
    """Browse experiments, runs, sweeps and models in a web browser (and move a model's
    aliases and stages)."""
    from fastapi import FastAPI

    from tunetrack.models.serving import run
    from tunetrack.server.guards import Guard, allowed_hosts
    from tunetrack.server.ui import mount_ui
    from tunetrack.store.sql.store import SqlStore
    from tunetrack.store.tracking_uri import normalize_uri, resolve_tracking_uri

    uri = normalize_uri(resolve_tracking_uri(backend_store_uri))
    if not uri.startswith(("sqlite:", "postgresql")):
        raise typer.BadParameter(f"the UI reads a SQLite or PostgreSQL store, not {uri!r}")
    store = SqlStore(uri)
    app = FastAPI(title="tunetrack UI", docs_url=None, redoc_url=None, openapi_url=None)
    mount_ui(app, store)
    # its pages edit aliases and stages: answer only to this machine's names (no DNS
    # rebinding) and refuse posts from other origins' pages
    app.add_middleware(Guard, hosts=allowed_hosts(host))
    typer.echo(f"tunetrack UI on http://{host}:{port} (store {uri})", err=True)
    try:
        run(app, host, port)
    finally:
        store.close()
