"""Where run artifacts live: a local directory or any fsspec URL.

Every artifact path is relative to the run's artifact root. Absolute paths, drive letters,
``..`` segments and NUL bytes are refused with :class:`~tunetrack.errors.InvalidInput`;
on local roots symlinks are resolved too, so nothing is read or written outside the root.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import secrets
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from tunetrack.entities import FileInfo
from tunetrack.errors import InvalidInput, NotFound

_DRIVE = re.compile(r"^[A-Za-z]:")


def clean_relpath(path: str | os.PathLike[str] | None, *, what: str = "artifact path") -> str:
    """Validate a relative artifact path and return it normalised ('/'-joined, '' for the root)."""
    if path is None:
        return ""
    raw = os.fspath(path)
    if not isinstance(raw, str):
        raise InvalidInput(f"{what} must be a str, got {raw!r}")
    if "\x00" in raw:
        raise InvalidInput(f"{what} contains a NUL byte: {raw!r}")
    text = raw.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text) or "://" in text:
        raise InvalidInput(f"{what} must be relative, got {raw!r}")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"{what} must not contain '..' segments, got {raw!r}")
    return "/".join(parts)


def file_relpath(artifact_file: str) -> str:
    """A validated relative path that names a file (not the root)."""
    rel = clean_relpath(artifact_file, what="artifact file")
    if not rel:
        raise InvalidInput(f"artifact file needs a name, got {artifact_file!r}")
    return rel


def is_proxied(root_uri: str) -> bool:
    """Whether ``root_uri`` is kept by a tunetrack server (reached through its proxy)."""
    scheme = urllib.parse.urlsplit(root_uri).scheme.lower()
    return scheme in ("http", "https", "tunetrack-artifacts")


def join_path(*parts: str) -> str:
    """Relative artifact paths joined with '/', empty ones skipped."""
    return "/".join(p for p in parts if p)


def within(path: str, root: str) -> bool:
    """Whether local ``path`` is ``root`` or below it (both normalised by the caller)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def local_path(uri: str) -> str | None:
    """The absolute local path a path or ``file:`` URI names, or None when it needs fsspec."""
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme == "" or _DRIVE.match(uri):
        return os.path.abspath(uri)
    if scheme == "file":
        parsed = urllib.parse.urlsplit(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"file URI with a remote host is not supported: {uri!r}")
        return os.path.abspath(urllib.request.url2pathname(parsed.path))
    return None


def _regular_files(top: str, boundary: str) -> list[tuple[str, str]]:
    """``(source path, relative posix path)`` of each regular file under ``top``.

    Symlinks are followed only when they resolve inside ``boundary``; links pointing outside,
    broken links, directory loops and special files are refused (nothing is copied).
    """
    real_boundary = os.path.realpath(boundary)
    found: list[tuple[str, str]] = []
    refused: list[str] = []

    def visit(directory: str, rel: str, ancestors: frozenset[str]) -> None:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            entry_rel = join_path(rel, entry.name)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not within(target, real_boundary):
                    refused.append(f"{entry.path} (symlink to {target}, outside {boundary})")
                    continue
                if not os.path.exists(target):
                    refused.append(f"{entry.path} (broken symlink)")
                    continue
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if real in ancestors:
                    refused.append(f"{entry.path} (symlink loop)")
                    continue
                visit(entry.path, entry_rel, ancestors | {real})
            elif entry.is_file():
                found.append((entry.path, entry_rel))
            else:
                refused.append(f"{entry.path} (not a regular file)")

    visit(top, "", frozenset({os.path.realpath(top)}))
    if refused:
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        shown = "; ".join(refused[:5]) + more
        raise InvalidInput(f"refusing to copy from {top}: {shown}")
    return found


_TMP_PREFIX = ".tunetrack-tmp-"


def _create_temp(parent: str) -> tuple[int, str]:
    """A new file in ``parent`` opened for writing, with mode 0666 less the process umask.

    (``tempfile.mkstemp`` would make it 0600, unreadable to teammates and to a server
    running as another user.)
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(parent, _TMP_PREFIX + secrets.token_hex(8))
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_file(dest: str) -> Iterator[BinaryIO]:
    """A temp file beside ``dest``, renamed over it when the block ends without an error
    (never written through a link at ``dest``)."""
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise InvalidInput(f"cannot write a file over the directory {dest}")
    fd, tmp = _create_temp(parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _atomic_write(dest: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``dest`` through a temp file and a rename."""
    with atomic_file(dest) as out:
        write(out)


def _copy_local(src: str, dest: str) -> None:
    def write(out: BinaryIO) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1024 * 1024)

    _atomic_write(dest, write)


class ArtifactRepository:
    """The artifacts of one run, stored under ``root_uri``.

    ``root_uri`` is a local path, a ``file://`` URI or any fsspec URL (``memory://``,
    ``s3://``...). Local roots (``local_root``, None otherwise) use :mod:`os`/:mod:`shutil`
    directly and are created lazily.
    A tunetrack server's artifacts are reached through its proxy instead, by
    :class:`~tunetrack.store.artifacts_http.HttpArtifactRepository`;
    :func:`tunetrack.store.uri.open_artifacts` picks the class a root URI needs.
    """

    def __init__(self, root_uri: str | os.PathLike[str]) -> None:
        self.root_uri = os.fspath(root_uri)
        if is_proxied(self.root_uri):
            raise InvalidInput(
                f"the artifacts at {self.root_uri} are kept by a tunetrack server: open them "
                "with tunetrack.store.uri.open_artifacts"
            )
        self.local_root = local_path(self.root_uri)
        self._fs: Any = None
        self._fs_root = ""
        if self.local_root is None:
            from fsspec.core import url_to_fs

            self._fs, path = url_to_fs(self.root_uri)
            self._fs_root = path.rstrip("/")

    def __repr__(self) -> str:
        return f"ArtifactRepository({self.root_uri!r})"

    # -- path helpers -------------------------------------------------------------------

    def checked_local_path(self, rel: str) -> str:
        """Local path of ``rel``; refuse when its real location escapes the root."""
        assert self.local_root is not None
        path = os.path.join(self.local_root, *rel.split("/")) if rel else self.local_root
        real_root = os.path.realpath(self.local_root)
        real = os.path.realpath(path)
        if not within(real, real_root):
            raise InvalidInput(f"artifact path {rel!r} leads through a symlink outside {real_root}")
        return path

    def _remote_path(self, rel: str) -> str:
        return f"{self._fs_root}/{rel}" if rel else self._fs_root

    # -- writing ------------------------------------------------------------------------

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy one local file into ``root/artifact_path/``."""
        src = os.fspath(local_path)
        if not os.path.exists(src):
            raise NotFound(f"file to log not found: {src}")
        if not os.path.isfile(src):
            raise InvalidInput(f"not a regular file (use log_artifacts for directories): {src}")
        rel = join_path(clean_relpath(artifact_path), clean_relpath(os.path.basename(src)))
        self._put_files([(src, rel)])

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy the contents of a local directory tree into ``root/artifact_path/``."""
        src_dir = os.fspath(local_dir)
        if not os.path.isdir(src_dir):
            raise NotFound(f"directory to log not found: {src_dir}")
        base = clean_relpath(artifact_path)
        files = _regular_files(src_dir, boundary=src_dir)
        self._put_files([(src, join_path(base, clean_relpath(rel))) for src, rel in files])

    def _put_files(self, files: list[tuple[str, str]]) -> None:
        if self.local_root is not None:
            # Check every destination before copying anything.
            planned = [(src, self.checked_local_path(rel)) for src, rel in files]
            for src, dest in planned:
                _copy_local(src, dest)
            return
        made: set[str] = set()
        for src, rel in files:
            dest = self._remote_path(rel)
            parent = posixpath.dirname(dest)
            if parent and parent not in made:
                self._fs.makedirs(parent, exist_ok=True)
                made.add(parent)
            self._fs.put_file(src, dest)

    def write_bytes(self, artifact_file: str, data: bytes) -> None:
        """Write ``data`` to ``artifact_file`` (relative), creating parent directories."""
        with self.open_write(artifact_file) as out:
            out.write(data)

    @contextlib.contextmanager
    def open_write(self, artifact_file: str) -> Iterator[BinaryIO]:
        """A file to write ``artifact_file`` through; on a local root it appears, whole, only
        when the block ends without an error."""
        rel = file_relpath(artifact_file)
        if self.local_root is not None:
            with atomic_file(self.checked_local_path(rel)) as out:
                yield out
            return
        dest = self._remote_path(rel)
        parent = posixpath.dirname(dest)
        if parent:
            self._fs.makedirs(parent, exist_ok=True)
        with self._fs.open(dest, "wb") as out:
            yield out

    # -- removing -----------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether anything is stored at the root."""
        if self.local_root is not None:
            return os.path.lexists(self.local_root)
        return bool(self._fs.exists(self._fs_root))

    def delete_all(self) -> bool:
        """Remove the root and everything below it (a link is removed, never followed);
        whether there was anything to remove."""
        if not self.exists():
            return False
        root = self.local_root
        if root is None:
            self._fs.rm(self._fs_root, recursive=True)
        elif os.path.isdir(root) and not os.path.islink(root):
            shutil.rmtree(root)
        else:
            os.remove(root)
        return True

    # -- reading ------------------------------------------------------------------------

    def read_bytes(self, artifact_file: str) -> bytes:
        """The contents of ``artifact_file``; :class:`NotFound` when it does not exist."""
        with self.open_read(artifact_file) as fh:
            return fh.read()

    def open_read(self, artifact_file: str) -> IO[bytes]:
        """``artifact_file`` opened for reading; :class:`NotFound` when it does not exist."""
        rel = clean_relpath(artifact_file, what="artifact file")
        if self.local_root is not None:
            path = self.checked_local_path(rel)
            is_dir = os.path.isdir(path)
        else:
            path = self._remote_path(rel)
            is_dir = self._fs.isdir(path)
        if is_dir:
            raise InvalidInput(f"artifact {rel!r} is a directory, not a file")
        try:
            return open(path, "rb") if self.local_root is not None else self._fs.open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"artifact {rel!r} not found in {self.root_uri}") from None

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root when None), sorted; ``[]`` for a missing dir."""
        rel = clean_relpath(path)
        infos: list[FileInfo] = []
        if self.local_root is not None:
            directory = self.checked_local_path(rel)
            if not os.path.isdir(directory):
                return []
            real_root = os.path.realpath(self.local_root)
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name.startswith(_TMP_PREFIX):
                        continue  # an in-flight atomic write
                    if entry.is_symlink() and not within(os.path.realpath(entry.path), real_root):
                        continue  # unreadable through this repository, so not listed
                    try:
                        is_dir = entry.is_dir()
                        size = None if is_dir else entry.stat().st_size
                    except OSError:
                        continue  # broken link or vanished entry
                    infos.append(FileInfo(join_path(rel, entry.name), is_dir, size))
        else:
            base = self._remote_path(rel)
            try:
                if not self._fs.isdir(base):
                    return []
                entries = self._fs.ls(base, detail=True)
            except FileNotFoundError:
                return []
            own = self._fs._strip_protocol(base).rstrip("/")
            for item in entries:
                name = str(item["name"]).rstrip("/")
                if name == own or not name:
                    continue
                is_dir = item.get("type") == "directory"
                size = None if is_dir else item.get("size")
                infos.append(FileInfo(join_path(rel, posixpath.basename(name)), is_dir, size))
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(self, artifact_path: str, dst_path: str | os.PathLike[str]) -> str:
        """Copy a file or directory of artifacts to ``dst_path``; return the local path."""
        rel = clean_relpath(artifact_path)
        dst_root = os.path.abspath(os.fspath(dst_path))
        target = os.path.join(dst_root, *rel.split("/")) if rel else dst_root
        if self.local_root is not None:
            src = self.checked_local_path(rel)
            if os.path.isfile(src):
                _copy_local(src, target)
                return target
            if not os.path.isdir(src):
                raise NotFound(f"artifact {rel!r} not found in {self.root_uri}")
            files = _regular_files(src, boundary=self.local_root)  # refuses escapes up front
            os.makedirs(target, exist_ok=True)
            for file_src, file_rel in files:
                _copy_local(file_src, os.path.join(target, *file_rel.split("/")))
            return target
        src = self._remote_path(rel)
        if self._fs.isdir(src):
            prefix = self._fs._strip_protocol(src).rstrip("/") + "/"
            names = [n for n in sorted(self._fs.find(src, withdirs=False)) if n.startswith(prefix)]
            # A remote key could hold '..': validate every key before writing anything locally.
            plan = [(n, clean_relpath(n[len(prefix) :], what="remote key")) for n in names]
            os.makedirs(target, exist_ok=True)
            for name, file_rel in plan:
                dest = os.path.join(target, *file_rel.split("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                self._fs.get_file(name, dest)
        elif self._fs.isfile(src):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self._fs.get_file(src, target)
        else:
            raise NotFound(f"artifact {rel!r} not found in {self.root_uri}")
        return target
