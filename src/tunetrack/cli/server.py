"""``tunetrack server``: the tracking server (REST API and artifact proxy) over one store."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from tunetrack.cli._common import friendly, size_option

_LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@friendly
def server_command(
    backend_store_uri: Annotated[
        str,
        typer.Option(
            help="The database the server keeps everything in: sqlite:///path.db or "
            "postgresql://user@host/db.",
        ),
    ] = "sqlite:///tunetrack.db",
    artifacts_destination: Annotated[
        str,
        typer.Option(
            help="Where runs created through the server keep their artifacts: a local "
            "directory or an fsspec URL (s3://bucket/path). Clients reach them through the "
            "server's /api/artifacts proxy.",
        ),
    ] = "./tunetrack-artifacts",
    host: Annotated[
        str, typer.Option(help="Interface to bind (anything but loopback is open to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 5000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
    max_body_size: Annotated[
        int | None,
        typer.Option(
            parser=size_option,
            metavar="SIZE",
            help="Largest JSON request accepted (default 100MB); a bigger one gets HTTP 413.",
            show_default=False,
        ),
    ] = None,
    max_artifact_size: Annotated[
        int | None,
        typer.Option(
            parser=size_option,
            metavar="SIZE",
            help="Largest artifact file accepted in one upload (default 10G).",
            show_default=False,
        ),
    ] = None,
    auth: Annotated[
        bool,
        typer.Option(
            "--auth",
            help="Require a user (HTTP Basic) or an API token (Bearer) on every request but "
            "/health; see tunetrack users and tunetrack tokens.",
        ),
    ] = False,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated names the server may be reached by (its Host header), "
            "besides localhost, 127.0.0.1, [::1] and --host; '*' allows any. Other names get "
            "HTTP 400 (against DNS rebinding).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the tracking store over HTTP: set_tracking_uri("http://HOST:PORT") to use it."""
    from tunetrack.models.serving import run
    from tunetrack.server.app import (
        DEFAULT_MAX_ARTIFACT_SIZE,
        DEFAULT_MAX_BODY_SIZE,
        ServerSettings,
        create_app,
    )
    from tunetrack.server.guards import allowed_hosts as allowlist
    from tunetrack.store.tracking_uri import normalize_uri

    settings = ServerSettings(
        normalize_uri(backend_store_uri),
        artifacts_destination
        if "://" in artifacts_destination
        else os.path.abspath(os.path.expanduser(artifacts_destination)),
        max_body_size or DEFAULT_MAX_BODY_SIZE,
        max_artifact_size or DEFAULT_MAX_ARTIFACT_SIZE,
        auth,
        ",".join(allowlist(host, (allowed_hosts or "").split(","))),
    )
    # Open the store before binding: a bad URI or an old schema is one line, not a traceback;
    # a new database gets its schema once, not once per worker.
    app = create_app(
        settings.backend_store_uri,
        settings.artifacts_destination,
        max_body_size=settings.max_body_size,
        max_artifact_size=settings.max_artifact_size,
        auth=auth,
        allowed_hosts=settings.allowed_hosts.split(","),
    )
    if not auth and not _is_loopback(host):
        typer.secho(
            f"warning: the server listens on {host}, open to anyone who can reach it: it has "
            "no authentication (start it with --auth)",
            err=True,
            fg=typer.colors.YELLOW,
        )
    typer.echo(
        f"tunetrack server on http://{host}:{port} (store {settings.backend_store_uri}, "
        f"artifacts {settings.artifacts_destination})",
        err=True,
    )
    if workers == 1:
        run(app, host, port)
        return
    app.state.store.close()
    os.environ.update(settings.to_env())  # each worker builds its app from these
    run("tunetrack.server.app:app_from_env", host, port, factory=True, workers=workers)
