"""Rendering for the UI: the Jinja2 environment (autoescape on), filters, links, headers.

Every page is sent with a Content-Security-Policy that allows scripts only from this
server (no inline script): figures travel as JSON data blocks that ``static/ui.js`` reads,
so a value that somehow escaped escaping still could not run. plotly's parallel
coordinates compile their WebGL shaders with ``Function``, hence ``'unsafe-eval'``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import math
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tunetrack.errors import InvalidInput, PermissionDenied, TunetrackError

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


#: The double-submit CSRF cookie: every form of a page carries its value, and a form post
#: is refused unless the two match (a page of another site can send the cookie at most,
#: never read it). SameSite=Strict keeps other sites from sending it at all.
CSRF_COOKIE = "tunetrack_csrf"
MAX_FORM_BYTES = 64 << 10


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` as a page; every template also gets ``request``,
    ``link``, ``user`` (None without ``--auth``) and the ``csrf`` token its forms carry."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    html = ENV.get_template(template).render(
        request=request,
        link=functools.partial(link, request),
        user=getattr(request.state, "user", None),
        csrf=csrf,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return response


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a posted form (``application/x-www-form-urlencoded``), its CSRF token
    checked against the cookie: PermissionDenied when it does not match."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidInput("post the page's form (application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput(f"a form is at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidInput("the form is not UTF-8") from None
    fields = dict(pairs)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = fields.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise PermissionDenied("the form's CSRF token is missing or stale: reload the page")
    return fields


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
