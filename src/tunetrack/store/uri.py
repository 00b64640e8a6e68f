"""What a URI opens: a tracking URI's store (chosen by scheme, shared per process) and an
artifact root's repository. Which tracking URI is meant is :mod:`tunetrack.store.tracking_uri`'s
business."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from tunetrack.store.artifacts import ArtifactRepository, is_proxied
from tunetrack.store.base import Store
from tunetrack.store.tracking_uri import resolve_tracking_uri

_stores: dict[str, Store] = {}
_users: dict[Store, int] = {}  # open clients of each shared store
_lock = threading.Lock()


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


def open_artifacts(root_uri: str | os.PathLike[str]) -> ArtifactRepository:
    """The artifact repository of ``root_uri``: through a tunetrack server's proxy for its
    URLs (``http(s)://…/api/artifacts/…``, ``tunetrack-artifacts:/…``), else a local
    directory or an fsspec URL."""
    if is_proxied(os.fspath(root_uri)):
        from tunetrack.store.artifacts_http import HttpArtifactRepository

        return HttpArtifactRepository(root_uri)
    return ArtifactRepository(root_uri)


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
