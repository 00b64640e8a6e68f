"""Tracking URIs: the default, the environment override, the process-wide current one, and
the canonical form of each (the key a store is shared under)."""

from __future__ import annotations

import os
from pathlib import Path

from tunetrack.errors import InvalidInput

DEFAULT_TRACKING_URI = "sqlite:///tunetrack.db"
MEMORY_URI = "sqlite:///:memory:"  # also spelled sqlite://
ENV_TRACKING_URI = "TUNETRACK_TRACKING_URI"

_current: str | None = None  # set by tunetrack.set_tracking_uri


def normalize_uri(uri: str) -> str:
    """Canonical form: absolute SQLite paths, psycopg for PostgreSQL, bare paths → SQLite,
    a tracking server's ``http(s)://host:port[/prefix]`` without a trailing slash."""
    uri = str(uri).strip()
    if uri in (MEMORY_URI, "sqlite://"):
        return MEMORY_URI
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]
        return f"sqlite:///{Path(path).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    if uri.startswith("postgresql+"):
        return uri
    scheme, sep, rest = uri.partition("://")
    if sep and scheme.lower() in ("http", "https") and rest.strip("/"):
        return f"{scheme.lower()}://{rest.rstrip('/')}"
    if "://" not in uri and uri.endswith((".db", ".sqlite", ".sqlite3")):
        return f"sqlite:///{Path(uri).expanduser().resolve()}"
    raise InvalidInput(
        f"unsupported tracking URI {uri!r}: use sqlite:///path/to/file.db, "
        f"{MEMORY_URI}, postgresql://user@host/db, a path ending in .db, or a tracking "
        "server's http://host:port"
    )


def set_current_uri(uri: str | None) -> None:
    """Make ``uri`` the process-wide default (``None`` goes back to the environment)."""
    global _current
    _current = None if uri is None else normalize_uri(uri)


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else set_tracking_uri's, else $TUNETRACK_TRACKING_URI, else ./tunetrack.db."""
    if uri:
        return normalize_uri(uri)
    return _current or normalize_uri(os.environ.get(ENV_TRACKING_URI) or DEFAULT_TRACKING_URI)
