"""Browser sessions of the web UI under ``--auth``: a signed cookie naming the user.

The cookie holds the user's name, a fingerprint of their stored password hash and an
expiry, signed with HMAC-SHA256. A changed password or a deleted user ends every session of
theirs at once (the fingerprint no longer matches); the role is read from the database on
each request, as for every other credential. The signing secret is made once and kept in the
store's database, so every worker of a server (``--workers N``) reads the same one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time

from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from tunetrack.store.sql import models as m
from tunetrack.store.sql.settings import read_setting

SESSION_COOKIE = "tunetrack_session"
SESSION_TTL_S = 12 * 3600
_SECRET_SETTING = "session_secret"


def session_secret(engine: Engine) -> bytes:
    """The store's session-signing secret, made on first use (first writer wins)."""
    with engine.connect() as conn:
        found = read_setting(conn, _SECRET_SETTING)
    if found is None:
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(m.store_settings).values(
                        key=_SECRET_SETTING, value=secrets.token_urlsafe(48)
                    )
                )
        except IntegrityError:
            pass  # another worker made it first: use theirs
        with engine.connect() as conn:
            found = read_setting(conn, _SECRET_SETTING)
    assert found is not None
    return found.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(stored_hash: str) -> str:
    """A short digest of a stored password hash (never the hash itself in a cookie)."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:32]


class Sessions:
    """Issues and reads session cookies signed with ``secret``."""

    def __init__(self, secret: bytes, ttl_s: int = SESSION_TTL_S) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, name: str, stored_hash: str) -> str:
        """A cookie value for ``name``, valid for ``ttl_s`` seconds."""
        body = {"u": name, "f": fingerprint(stored_hash), "e": int(time.time()) + self.ttl_s}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str) -> tuple[str, str] | None:
        """(user name, password fingerprint) of a valid, unexpired cookie, else None."""
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            body = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("e"), int):
            return None
        if body["e"] < time.time():
            return None
        name, print_ = body.get("u"), body.get("f")
        if not isinstance(name, str) or not isinstance(print_, str):
            return None
        return name, print_
