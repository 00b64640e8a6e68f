"""Tracking URIs: the default, the environment override, and the store each one opens."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from tunetrack.errors import InvalidInput
from tunetrack.store.base import Store

DEFAULT_TRACKING_URI = "sqlite:///tunetrack.db"
MEMORY_URI = "sqlite:///:memory:"  # also spelled sqlite://
ENV_TRACKING_URI = "TUNETRACK_TRACKING_URI"

_stores: dict[str, Store] = {}
_users: dict[Store, int] = {}  # open clients of each shared store
_lock = threading.Lock()
_current: str | None = None  # set by tunetrack.set_tracking_uri


def _sql_store(uri: str) -> Store:
    from tunetrack.store.sql.store import SqlStore

    return SqlStore(uri)


def _rest_store(uri: str) -> Store:
    from tunetrack.store.rest import RestStore

    return RestStore(uri)


#: URI scheme (before any ``+driver``) -> the store class that opens such URIs.
STORE_SCHEMES: dict[str, Callable[[str], Store]] = {
    "sqlite": _sql_store,
    "postgresql": _sql_store,
    "http": _rest_store,
    "https": _rest_store,
}


def open_store(uri: str) -> Store:
    """A new store for a normalized tracking URI, of the class its scheme names."""
    scheme = uri.partition(":")[0].partition("+")[0].lower()
    return STORE_SCHEMES[scheme](uri)


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


def acquire_store(uri: str | None = None) -> Store:
    """The process-wide store of a tracking URI, opened on first use and then shared.

    Each call takes a share of it; :func:`release_store` gives the share back.
    """
    key = resolve_tracking_uri(uri)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = open_store(key)
        _users[store] = _users.get(store, 0) + 1
        return store


def release_store(store: Store, before_close: Callable[[Store], None]) -> None:
    """Give back one share of ``store``; the last one calls ``before_close`` and closes it."""
    with _lock:
        left = _users.get(store, 1) - 1
        if left > 0:
            _users[store] = left
            return
        _users.pop(store, None)
        for key, shared in list(_stores.items()):
            if shared is store:
                del _stores[key]
    before_close(store)
    store.close()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)
