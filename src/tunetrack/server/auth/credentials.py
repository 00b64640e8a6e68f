"""Passwords as salted scrypt hashes, API tokens as random strings stored by their sha256.

A hash records its parameters: ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``, so stronger
parameters later still verify old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1  # 16 MiB and ~50 ms a hash
_KEY_BYTES = 32
_SALT_BYTES = 16
TOKEN_PREFIX = "tt_"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    memory = 128 * r * (n + p + 2)  # what scrypt needs, plus room
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=memory + (1 << 20), dklen=size
    )


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (two calls never give the same string)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, _N, _R, _P, _KEY_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was hashed from (constant-time compare)."""
    try:
        kind, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        if kind != "scrypt":
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    """A fresh API token (shown once; only its digest is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The sha256 of a token, as stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()
