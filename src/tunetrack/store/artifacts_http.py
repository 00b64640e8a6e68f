"""Artifacts kept by a tunetrack server, reached through its proxy (``/api/artifacts/…``).

A run created through the server gets an artifact URI under the server's artifact root,
``tunetrack-artifacts:/<experiment_id>/<run_id>``. RestStore hands it to its callers as the
URL its own server answers it at, ``http://host:port/api/artifacts/<experiment_id>/<run_id>``,
and :class:`HttpArtifactRepository` reads and writes there: uploads and downloads stream
(no whole file in memory), and clients need no credentials of the storage behind the server.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from typing import IO, BinaryIO

import httpx

from tunetrack.entities import FileInfo
from tunetrack.errors import InvalidInput, StoreError
from tunetrack.store._http import HttpSession
from tunetrack.store.artifacts import (
    ArtifactRepository,
    atomic_file,
    clean_relpath,
    file_relpath,
    join_path,
)

#: The artifact root a tracking server gives its store: a path below it is proxied.
PROXY_ROOT = "tunetrack-artifacts:"
ARTIFACTS_API = "/api/artifacts"
_CHUNK = 1 << 20

_sessions: dict[str, HttpSession] = {}
_sessions_lock = threading.Lock()


def proxied_to_url(uri: str, base_url: str) -> str:
    """A ``tunetrack-artifacts:`` URI as the URL of the server at ``base_url`` (others as is)."""
    if not uri.startswith(PROXY_ROOT):
        return uri
    rel = uri[len(PROXY_ROOT) :].strip("/")
    return f"{base_url}{ARTIFACTS_API}/{rel}" if rel else f"{base_url}{ARTIFACTS_API}"


def url_to_proxied(uri: str, base_url: str) -> str:
    """The inverse of :func:`proxied_to_url` (a URI not under that server is returned as is)."""
    prefix = f"{base_url}{ARTIFACTS_API}"
    if uri == prefix or uri.startswith(prefix + "/"):
        return f"{PROXY_ROOT}/{uri[len(prefix) :].strip('/')}"
    return uri


def _session(base_url: str) -> HttpSession:
    with _sessions_lock:
        session = _sessions.get(base_url)
        if session is None:
            session = _sessions[base_url] = HttpSession(base_url)
        return session


def _server_url(root_uri: str) -> str:
    """``root_uri`` as an http(s) URL (a tunetrack-artifacts: URI goes to the tracking server)."""
    if not root_uri.startswith(PROXY_ROOT):
        return root_uri
    from tunetrack.store.tracking_uri import resolve_tracking_uri

    tracking = resolve_tracking_uri()
    if not tracking.startswith(("http://", "https://")):
        raise InvalidInput(
            f"the artifacts at {root_uri} are kept by a tunetrack server: set the tracking URI "
            "to that server's URL (http://host:port) to read or write them"
        )
    return proxied_to_url(root_uri, tracking)


class HttpArtifactRepository(ArtifactRepository):
    """The artifacts under one directory of a tunetrack server's artifact proxy."""

    def __init__(self, root_uri: str | os.PathLike[str]) -> None:
        self.root_uri = os.fspath(root_uri)
        url = _server_url(self.root_uri)
        base, found, rel = url.partition(ARTIFACTS_API)
        if not found or rel[:1] not in ("", "/"):
            raise InvalidInput(
                f"{self.root_uri!r} is not a tunetrack server's artifact URL "
                f"(http://host:port{ARTIFACTS_API}/…)"
            )
        self.local_root = None
        self._fs = None
        self._root = clean_relpath(urllib.parse.unquote(rel[1:]))
        self._session = _session(base)

    def _path(self, rel: str) -> str:
        return f"{ARTIFACTS_API}/{urllib.parse.quote(join_path(self._root, rel))}"

    # -- writing --------------------------------------------------------------------------
    def _put_files(self, files: list[tuple[str, str]]) -> None:
        for src, rel in files:
            self._session.request(
                "PUT",
                self._path(rel),
                content=lambda src=src: open(src, "rb"),  # noqa: SIM115 (closed once sent)
                idempotent=True,
            )

    def write_bytes(self, artifact_file: str, data: bytes) -> None:
        """Upload ``data`` as ``artifact_file``."""
        rel = file_relpath(artifact_file)
        self._session.request("PUT", self._path(rel), content=bytes(data), idempotent=True)

    @contextlib.contextmanager
    def open_write(self, artifact_file: str) -> Iterator[BinaryIO]:
        """A local temp file, uploaded as ``artifact_file`` when the block ends without error."""
        rel = file_relpath(artifact_file)
        with tempfile.TemporaryFile() as tmp:
            yield tmp
            tmp.flush()

            def rewound() -> _Unclosed:
                tmp.seek(0)
                return _Unclosed(tmp)

            self._session.request("PUT", self._path(rel), content=rewound, idempotent=True)

    # -- reading --------------------------------------------------------------------------
    def read_bytes(self, artifact_file: str) -> bytes:
        """The contents of ``artifact_file``."""
        rel = clean_relpath(artifact_file, what="artifact file")
        return self._session.request("GET", self._path(rel), idempotent=True).content

    def open_read(self, artifact_file: str) -> IO[bytes]:
        """``artifact_file`` downloaded into a temp file (in memory while small), rewound."""
        rel = clean_relpath(artifact_file, what="artifact file")
        spool = tempfile.SpooledTemporaryFile(max_size=8 * _CHUNK)  # noqa: SIM115 (returned)
        try:
            self._download(rel, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def _download(self, rel: str, out: IO[bytes]) -> None:
        response = self._session.request("GET", self._path(rel), idempotent=True, stream=True)
        try:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
        except httpx.HTTPError as exc:
            raise StoreError(f"downloading artifact {rel!r} failed: {exc}") from exc
        finally:
            response.close()

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root when None), sorted; ``[]`` for a missing dir."""
        from tunetrack.server.api.schemas import ArtifactList

        rel = clean_relpath(path)
        body = self._session.call("GET", ARTIFACTS_API, params={"path": join_path(self._root, rel)})
        cut = len(self._root) + 1 if self._root else 0
        return [
            FileInfo(clean_relpath(info.path[cut:]), info.is_dir, info.file_size)
            for info in ArtifactList.model_validate_json(body).files
        ]

    def download_artifacts(self, artifact_path: str, dst_path: str | os.PathLike[str]) -> str:
        """Copy a file or directory of artifacts to ``dst_path``; return the local path."""
        rel = clean_relpath(artifact_path)
        dst_root = os.path.abspath(os.fspath(dst_path))
        target = os.path.join(dst_root, *rel.split("/")) if rel else dst_root
        files = self._files_under(rel)
        if files is None:  # a file (or nothing: the server says NotFound)
            with atomic_file(target) as out:
                self._download(rel, out)
            return target
        os.makedirs(target, exist_ok=True)
        for file_rel in files:
            inner = file_rel[len(rel) + 1 :] if rel else file_rel
            with atomic_file(os.path.join(target, *inner.split("/"))) as out:
                self._download(file_rel, out)
        return target

    def _files_under(self, rel: str) -> list[str] | None:
        """Every file below the directory ``rel``; None when ``rel`` is not a directory."""
        entries = self.list_artifacts(rel)
        if not entries and rel:
            return None
        files: list[str] = []
        for entry in entries:
            if entry.is_dir:
                files.extend(self._files_under(entry.path) or [])
            else:
                files.append(entry.path)
        return files


class _Unclosed:
    """A file handed to a request body that must stay open after the request (a retry
    rewinds it)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._fh.read(_CHUNK):
            yield chunk
