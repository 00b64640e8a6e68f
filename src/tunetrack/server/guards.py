"""ASGI middleware that guards the tracking server against browser-borne attacks.

:class:`Guard` answers before the app runs:

- a ``Host`` header not in the allowlist gets 400 (DNS rebinding: a page on an attacker's
  name that resolves to 127.0.0.1 would otherwise reach a server on this machine);
- a state-changing request (POST, PUT, PATCH, DELETE) sent by a browser from another origin
  gets 403: its ``Origin`` is not the server's own, or ``Sec-Fetch-Site`` says another site
  (cross-site request forgery; scripts and the mlflow client send neither header);

and every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
and ``Referrer-Policy: no-referrer`` unless the route set its own (the UI's sandboxed
artifact frame is framed by the UI itself, so it says ``SAMEORIGIN``).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunetrack.errors import InvalidInput, PermissionDenied
from tunetrack.server.errors import error_response

#: Names a server bound to loopback is reached by (the bind host is added to them).
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_OTHER_SITE = frozenset({"cross-site", "same-site"})  # Sec-Fetch-Site values of another origin


def host_name(host: str) -> str:
    """The name in a ``Host`` header value or a bind host, without port, lowercased
    (IPv6 addresses in brackets: ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    if host.count(":") > 1:  # a bare IPv6 address (a bind host)
        return f"[{host}]"
    return host.partition(":")[0]


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The default allowlist (loopback names and ``bind_host``) plus ``extra`` names."""
    names = [*DEFAULT_ALLOWED_HOSTS, host_name(bind_host), *(host_name(h) for h in extra)]
    return tuple(dict.fromkeys(n for n in names if n))


class Guard:
    """Refuse foreign ``Host`` headers and cross-origin writes; add security headers.

    ``hosts`` are the names the server may be reached by (``"*"`` allows any).
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(host_name(h) if h != "*" else h for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_guarded)

    def _refusal(self, scope: Scope) -> ASGIApp | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if "*" not in self.hosts and host_name(host) not in self.hosts:
            message = (
                f"this server is not reached by the name {host!r} (tunetrack server "
                "--allowed-hosts lists the names it answers to)"
            )
            return self._error(400, InvalidInput.code, message)
        if scope["method"] in _SAFE_METHODS:
            return None
        origin = headers.get("origin")
        own = f"{scope.get('scheme', 'http')}://{host.lower()}"
        if origin is not None and origin.lower() != own:
            message = f"a {scope['method']} from the page of another origin ({origin}) is refused"
            return self._error(403, PermissionDenied.code, message)
        if headers.get("sec-fetch-site", "").lower() in _OTHER_SITE:
            message = f"a {scope['method']} from the page of another site is refused"
            return self._error(403, PermissionDenied.code, message)
        return None

    @staticmethod
    def _error(status: int, code: str, message: str) -> ASGIApp:
        response = error_response(status, code, message)
        response.headers.update(SECURITY_HEADERS)
        return response
