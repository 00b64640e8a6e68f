"""Shared pieces of the CLI: options, error handling, output as tables or JSON."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tunetrack._clock import now_ms
from tunetrack.errors import TunetrackError

if TYPE_CHECKING:
    from tunetrack.entities import Run
    from tunetrack.tracking.client import Client

UriOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="TUNETRACK_TRACKING_URI",
        help="Tracking store URI (default: sqlite:///tunetrack.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON instead of a table (keys named like its columns; times in epoch "
        "milliseconds, durations in milliseconds).",
    ),
]
_F = TypeVar("_F", bound=Callable[..., Any])


def size_option(value: str) -> int:
    """A size option (``--max-body-size 100MB``) as bytes; a usage error names the option."""
    from tunetrack._sizes import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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


def client(uri: str | None) -> Client:
    """A tracking Client for ``--tracking-uri`` (or the default)."""
    from tunetrack.tracking.client import Client

    return Client(uri)


def when(ms: int | None) -> str:
    """A store timestamp (epoch milliseconds) as local time, like ``2026-12-04 12:03:11``."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: int | None) -> str:
    """Milliseconds as ``40ms``, ``1.2s``, ``3m 04s``, ``2h 01m`` or ``1d 02h`` (rounded
    down)."""
    if ms is None:
        return ""
    ms = max(ms, 0)
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms // 100 / 10:.1f}s"
    minutes, seconds = divmod(ms // 1000, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


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


def text(value: Any) -> str:
    """A machine value as table text: floats to 4 significant digits, mappings as
    ``key=value`` pairs, sequences joined by commas, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value)
    return str(value)


def short_id(run_id: str | None) -> str:
    """A run id as tables show it: its first 8 characters (the run commands take those)."""
    return (run_id or "")[:8]


@dataclass(frozen=True)
class Column:
    """A column of a list command: ``key`` is both its header and its JSON key.

    ``show`` turns the machine value into table text; ``rank`` 0 columns are always
    shown, the others only while the terminal has room, lower ranks first.
    """

    key: str
    show: Callable[[Any], str] = text
    rank: int = 0


_MAX_CELL = 40  # longer cells end with an ellipsis
_GAP = 2  # characters between two columns


def print_records(
    title: str,
    columns: Sequence[Column],
    records: Sequence[dict[str, Any]],
    *,
    hint: str = "use --json or a wider terminal to see them",
) -> None:
    """Print ``records`` (machine values by column key) as a table as wide as the terminal.

    Rank 0 columns are always shown; the others get the room left, lowest rank first (a
    column too wide is skipped for narrower ones after it). A note after the table names
    the columns left out and ``hint`` says how to see them.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cells = [[column.show(record.get(column.key)) for record in records] for column in columns]
    widths = [
        max([cell_len(column.key), *(min(cell_len(c), _MAX_CELL) for c in column_cells)])
        for column, column_cells in zip(columns, cells, strict=True)
    ]
    shown = {i for i, column in enumerate(columns) if column.rank == 0}
    used = sum(widths[i] + _GAP for i in shown) - _GAP
    left_out = []
    for i in sorted(set(range(len(columns))) - shown, key=lambda i: columns[i].rank):
        if used + _GAP + widths[i] <= console.width:
            shown.add(i)
            used += _GAP + widths[i]
        else:
            left_out.append(columns[i].key)
    table = Table(
        title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)
    )
    kept = sorted(shown)
    for i in kept:
        table.add_column(columns[i].key, max_width=widths[i], no_wrap=True, overflow="ellipsis")
    for row in zip(*(cells[i] for i in kept), strict=True):
        table.add_row(*row)
    console.print(table)
    if left_out:
        names = ", ".join(left_out[:3]) + (", …" if len(left_out) > 3 else "")
        count = f"{len(left_out)} column{'s' if len(left_out) > 1 else ''}"
        console.print(f"{count} left out ({names}): {hint}", style="dim", markup=False)


@contextlib.contextmanager
def stdout_to_stderr(when: bool = True) -> Iterator[None]:
    """While the block runs (if ``when``), what anything prints to stdout goes to stderr:
    this process, its threads and the worker processes it starts (they inherit the file
    descriptor). A ``--json`` command keeps stdout for its one JSON document."""
    if not when:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def print_json(data: Any) -> None:
    """Print data as indented, strict JSON to stdout (NaN and ±inf become null)."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n")


def _finite(data: Any) -> Any:
    """``data`` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


#: The attributes of a run that are columns of its tables (besides params./metrics./tags.).
RUN_ATTRIBUTES = (
    "run_id", "run_name", "experiment_id", "status", "start_time", "end_time", "duration",
    "parent_run_id", "artifact_uri",
)  # fmt: skip


def run_value(run: Run, column: str) -> Any:
    """The machine value of a run's ``column``: an attribute in :data:`RUN_ATTRIBUTES`
    (``duration`` in milliseconds, up to now while the run is RUNNING) or a
    ``params.``/``metrics.``/``tags.`` key (None when the run has none)."""
    section, _, key = column.partition(".")
    if key and section in ("params", "metrics", "tags"):
        return getattr(run.data, section).get(key)
    info = run.info
    if column == "status":
        return info.status.value
    if column == "duration":
        end = info.end_time
        if end is None and not info.status.is_terminal:
            end = now_ms()
        return None if end is None or info.start_time is None else end - info.start_time
    return getattr(info, column)


def run_dict(run: Run) -> dict[str, Any]:
    """A run as plain JSON-ready data: its attributes, then its metrics, params and tags."""
    return {
        **{column: run_value(run, column) for column in RUN_ATTRIBUTES},
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
    }
