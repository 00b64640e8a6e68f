"""Who is asking: every request but ``/health`` carries HTTP Basic or Bearer credentials.

:class:`Authenticate` answers 401 (with ``WWW-Authenticate``) when they are missing or
wrong, else puts the :class:`~tunetrack.server.auth.roles.User` in ``request.state.user``.
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
from collections import OrderedDict

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from tunetrack.errors import Unauthenticated
from tunetrack.server.auth.credentials import hash_password, verify_password
from tunetrack.server.auth.roles import User
from tunetrack.server.errors import error_response
from tunetrack.store.sql.users import UserStore

OPEN_PATHS = frozenset({"/health"})
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

    def __init__(self, users: UserStore) -> None:
        self.users = users
        self._matched = _MatchedPasswords()
        self._decoy: str | None = None  # hashed against for unknown users: same time taken

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
        found = self.users.password_user(name)
        if found is None:
            self._decoy = self._decoy or hash_password("decoy")
            verify_password(password, self._decoy)
            return None
        user, stored = found
        if (header, stored) in self._matched:
            return user
        if not verify_password(password, stored):
            return None
        self._matched.add((header, stored))
        return user


class Authenticate:
    """ASGI middleware: 401 for a request without valid credentials, except ``OPEN_PATHS``."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization")
        user = None
        if header:
            user = await run_in_threadpool(self.authenticator.user_for, header)
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
