"""Who is asking: every request but ``/health`` carries HTTP Basic or Bearer credentials,
or (the web UI's pages only, not ``/api/``) a session cookie from the login page.

:class:`Authenticate` answers 401 (with ``WWW-Authenticate``) when they are missing or
wrong — a browser asking for a page is sent to ``/login`` instead — else puts the
:class:`~tunetrack.server.auth.roles.User` in ``request.state.user``.
Users, tokens and grants are read from the database on every request, so a revoked token or
a changed role counts at once; only the slow part, scrypt, is remembered: a password that
matched a stored hash is not hashed again for a minute.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
import urllib.parse
from collections import OrderedDict

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tunetrack.errors import Unauthenticated
from tunetrack.server.auth.credentials import hash_password, verify_password
from tunetrack.server.auth.roles import User
from tunetrack.server.auth.sessions import SESSION_COOKIE, Sessions, fingerprint
from tunetrack.server.errors import error_response
from tunetrack.store.sql.users import UserStore

OPEN_PATHS = frozenset({"/health", "/login", "/static/ui/ui.css", "/static/ui/ui.js"})
LOGIN_PATH = "/login"
CHALLENGE = 'Basic realm="tunetrack", charset="UTF-8", Bearer realm="tunetrack"'


class _MatchedPasswords:
    """An LRU of (Authorization header, stored hash) pairs that verified, for ``ttl`` s."""

    def __init__(self, ttl: float = 60.0, size: int = 1024) -> None:
        self._ttl, self._size = ttl, size
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(header: str, stored: str) -> bytes:
        return hashlib.sha256(f"{header}\0{stored}".encode()).digest()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        key = self._key(*pair)
        with self._lock:
            expiry = self._expiry.get(key)
            if expiry is None or expiry < time.monotonic():
                return False
            self._expiry.move_to_end(key)
            return True

    def add(self, pair: tuple[str, str]) -> None:
        with self._lock:
            self._expiry[self._key(*pair)] = time.monotonic() + self._ttl
            self._expiry.move_to_end(self._key(*pair))
            while len(self._expiry) > self._size:
                self._expiry.popitem(last=False)


class Authenticator:
    """The user an ``Authorization`` header names, checked against :class:`UserStore`."""

    def __init__(self, users: UserStore, sessions: Sessions) -> None:
        self.users = users
        self.sessions = sessions
        self._matched = _MatchedPasswords()
        self._decoy: str | None = None  # hashed against for unknown users: same time taken

    def password_login(self, name: str, password: str) -> tuple[User, str] | None:
        """The user and their stored hash when ``password`` is theirs, else None (an unknown
        name costs the same scrypt as a wrong password)."""
        found = self.users.password_user(name)
        if found is None:
            self._decoy = self._decoy or hash_password("decoy")
            verify_password(password, self._decoy)
            return None
        return found if verify_password(password, found[1]) else None

    def session_user(self, cookie: str) -> User | None:
        """The user of a session cookie while it is valid and their password unchanged."""
        session = self.sessions.read(cookie)
        if session is None:
            return None
        found = self.users.password_user(session[0])
        if found is None or fingerprint(found[1]) != session[1]:
            return None
        return found[0]

    def user_for(self, header: str) -> User | None:
        """The user of ``header`` (``Basic …`` or ``Bearer …``), None when it names nobody."""
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return self.users.token_user(value.strip())
        if scheme.lower() != "basic":
            return None
        try:
            name, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        known = self.users.password_user(name)
        if known is not None and (header, known[1]) in self._matched:
            return known[0]
        found = self.password_login(name, password)
        if found is None:
            return None
        self._matched.add((header, found[1]))
        return found[0]


class Authenticate:
    """ASGI middleware: 401 for a request without valid credentials, except ``OPEN_PATHS``."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        header = headers.get("authorization")
        cookie = _cookie(headers, SESSION_COOKIE)
        user = None
        if header:
            user = await run_in_threadpool(self.authenticator.user_for, header)
        elif cookie and not scope["path"].startswith("/api/"):
            user = await run_in_threadpool(self.authenticator.session_user, cookie)
        if user is None and not header and _wants_page(scope, headers):
            await _to_login(scope)(scope, receive, send)
            return
        if user is None:
            message = (
                "wrong user name, password or token"
                if header
                else "this server needs credentials: a user name and password (HTTP Basic) "
                "or an API token (Bearer)"
            )
            response = error_response(
                401, Unauthenticated.code, message, {"WWW-Authenticate": CHALLENGE}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _wants_page(scope: Scope, headers: Headers) -> bool:
    """A browser navigating to a page of the UI (not a script calling the API)."""
    return (
        scope["method"] == "GET"
        and not scope["path"].startswith("/api/")
        and "text/html" in headers.get("accept", "")
    )


def _to_login(scope: Scope) -> RedirectResponse:
    here = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
    return RedirectResponse(f"{LOGIN_PATH}?{urllib.parse.urlencode({'next': here})}", 303)
