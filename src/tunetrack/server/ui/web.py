"""Rendering for the UI: the Jinja2 environment (autoescape on), filters, links, headers.

Every page is sent with a Content-Security-Policy that allows scripts only from this
server (no inline script): figures travel as JSON data blocks that ``static/ui.js`` reads,
so a value that somehow escaped escaping still could not run. plotly's parallel
coordinates compile their WebGL shaders with ``Function``, hence ``'unsafe-eval'``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tunetrack.errors import TunetrackError

PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
#: An HTML artifact: no script, no network, its own opaque origin (and framed sandboxed).
ARTIFACT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def local_time(ms: int | None) -> str:
    """Epoch milliseconds as local ``YYYY-MM-DD HH:MM:SS`` ('' for None)."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: int | None, end: int | None) -> str:
    """A short duration such as ``1.2s``, ``3m05s`` or ``2h10m`` ('' while running)."""
    if start is None or end is None:
        return ""
    seconds = max(end - start, 0) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def show_value(value: object) -> str:
    """A cell value: floats in 6 significant digits, NaN and infinities spelled out."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(time=local_time, value=show_value)
    env.globals.update(duration=duration)
    return env


ENV = _environment()


def link(request: Request, path: str | None = None, **changes: object) -> str:
    """This page's URL (or ``path``) with query parameters changed (None drops one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        params.extend((key, str(v)) for v in values)
    query = urllib.parse.urlencode(params)
    return (path or request.url.path) + (f"?{query}" if query else "")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` (plus ``request`` and ``link``) as a page."""
    html = ENV.get_template(template).render(
        request=request, link=functools.partial(link, request), **context
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _answering_errors(
    respond: Callable[[Any, TunetrackError], Response],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except TunetrackError as exc:
                return respond(kwargs.get("request"), exc)

        return wrapper

    return decorate


#: A page route: tunetrack errors become an error page with the error's HTTP status.
page = _answering_errors(
    lambda request, exc: render(request, "error.html", exc.http_status, message=exc.message)
)
#: A file route: tunetrack errors become a one-line text answer with the error's status.
plain = _answering_errors(lambda _, exc: PlainTextResponse(exc.message, exc.http_status))


def filter_error(exc: TunetrackError, offset: int = 0) -> Mapping[str, object]:
    """A filter error as {message, column}: the column (1-based, minus ``offset``) that
    the parser's "at column N:" names, for the caret under the search box."""
    first, _, _ = exc.message.partition("\n")
    head, found, rest = first.partition(" at column ")
    if not found:
        return {"message": first, "column": None}
    number, _, message = rest.partition(": ")
    try:
        column = max(int(number) - offset, 1)
    except ValueError:
        return {"message": first, "column": None}
    return {"message": f"{head} at column {column}: {message}", "column": column}
