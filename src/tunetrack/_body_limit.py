"""Request-body size limits for tunetrack's HTTP apps (the model server, the tracking server).

:class:`BodyLimit` is an ASGI middleware. A body whose Content-Length is over the limit is
refused with 413 before any of it is read; a chunked body is refused as soon as the bytes
read pass the limit. The 413 is raised as an ``HTTPException`` from the ``receive`` the app
reads its body through, so the app's own exception handlers render it, and it asks the
client to close the connection rather than have the server read (and discard) the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunetrack._sizes import format_size

#: ``limit_for(scope) -> (limit in bytes, the option that sets it)`` for one request.
LimitFor = Callable[[Scope], tuple[int, str]]


def too_large(limit: int, option: str) -> HTTPException:
    """The 413 for a body over ``limit`` bytes; the message names the ``option`` that sets it."""
    size = format_size(limit)
    message = f"the request body is larger than this server's limit of {size} ({option})"
    return HTTPException(413, message, headers={"Connection": "close"})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """Refuse request bodies over the limit ``limit_for`` gives for each request."""

    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, option = self.limit_for(scope)
        declared = _declared_length(scope)
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            if declared is not None and declared > limit:
                raise too_large(limit, option)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit, option)
            return message

        await self.app(scope, limited_receive, send)
