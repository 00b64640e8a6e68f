"""Shared pieces of the CLI: options, error handling, output as tables or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from tunetrack.errors import TunetrackError

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


def friendly(fn: _F) -> _F:
    """Turn tunetrack errors into one clear line on stderr and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TunetrackError as exc:
            typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def client(uri: str | None):  # type: ignore[no-untyped-def]
    """A tracking Client for ``--tracking-uri`` (or the default)."""
    from tunetrack.tracking.client import Client

    return Client(uri)


def when(ms: int | None) -> str:
    """A store timestamp as UTC text."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def print_table(title: str, columns: Sequence[str], rows: list[list[str]]) -> None:
    """Print a rich table to stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column.endswith("id"))
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def print_json(data: Any) -> None:
    """Print data as indented JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def run_dict(run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A run as plain JSON-ready data."""
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
