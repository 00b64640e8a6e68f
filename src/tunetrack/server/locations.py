"""Which artifact locations a client may record through the server.

A model version's ``source`` and an experiment's ``artifact_location`` are read later, by the
server's UI and by every client that loads the model. Through the server they may only name
its own artifact store (``tunetrack-artifacts:/<path>``, a path or URL under
``--artifacts-destination``) or, for a source, another run's or model's files (``runs:/``,
``models:/``): registering ``/etc`` or ``file:///etc/passwd`` and reading it back
(MLflow's CVE-2023-1177 and its kin) is refused with :class:`~tunetrack.errors.InvalidInput`.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request

from tunetrack.errors import InvalidInput
from tunetrack.store.artifacts import ArtifactRepository, clean_relpath, within
from tunetrack.store.artifacts_http import PROXY_ROOT

_INDIRECT = ("runs:/", "models:/")  # resolved through the store to a checked location


def _relative(rest: str, uri: str, what: str) -> None:
    """Refuse the part of ``uri`` after its root when it could leave that root."""
    if "#" in rest or "?" in rest or "%" in rest:
        raise InvalidInput(f"{what} must not hold '#', '?' or '%' escapes, got {uri!r}")
    clean_relpath(rest, what=what)


def _local_path(uri: str) -> str | None:
    """The local path ``uri`` names (a path or a ``file:`` URI), or None for other URLs."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return urllib.request.url2pathname(parsed.path)
    return uri if os.path.isabs(uri) else None


def _under_root(uri: str, root: ArtifactRepository, what: str) -> bool:
    """Whether ``uri`` is a path or URL under the server's artifact root (checked)."""
    local_root = root.local_root
    if local_root is not None:
        path = _local_path(uri)
        if path is None or "#" in uri or "?" in uri:
            return False
        if not within(os.path.normpath(path), local_root):
            return False
        _relative(os.path.relpath(path, local_root), uri, what)
        return within(os.path.realpath(path), os.path.realpath(local_root))
    prefix = root.root_uri.rstrip("/") + "/"
    if not uri.startswith(prefix):
        return False
    _relative(uri[len(prefix) :], uri, what)
    return True


def checked_location(
    uri: str, root: ArtifactRepository, what: str, *, indirect: bool = False
) -> str:
    """``uri`` when it names a place in the server's artifact store (or, with ``indirect``,
    a ``runs:/`` or ``models:/`` URI); :class:`InvalidInput` otherwise."""
    if uri.startswith(PROXY_ROOT):
        _relative(uri[len(PROXY_ROOT) :].lstrip("/"), uri, what)
        return uri
    if indirect and uri.startswith(_INDIRECT):
        _relative(uri.partition(":/")[2], uri, what)
        return uri
    if _under_root(uri, root, what):
        return uri
    kinds = f"{PROXY_ROOT}/<path>, mlflow-artifacts:/<path>"
    if indirect:
        kinds += ", runs:/<run_id>/<path> or models:/<name>/<version>"
    raise InvalidInput(
        f"{what} must be in this server's artifact store ({kinds}), not {uri!r}: the server "
        "reads no files outside it"
    )
