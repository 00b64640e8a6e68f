"""The run page's artifact browser: which repository holds a run's files, and previews.

A preview reads at most :data:`PREVIEW_BYTES` of a file. Text, JSON (pretty-printed), YAML
and CSV (as a table) are returned as data that the template escapes; images are shown
from the download route; HTML only ever inside a sandboxed frame (see ``routes``).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from dataclasses import dataclass, field

from tunetrack.entities import Run
from tunetrack.errors import InvalidInput, PermissionDenied
from tunetrack.server.locations import checked_location
from tunetrack.store.artifacts import ArtifactRepository
from tunetrack.store.artifacts_http import PROXY_ROOT
from tunetrack.store.uri import open_artifacts

PREVIEW_BYTES = 1 << 20
CSV_ROWS = 200
IMAGE_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".svg": "image/svg+xml",
}  # fmt: skip
_TEXT = {".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".mlmodel"}
_HTML = {".html", ".htm"}


def run_repository(run: Run, server_root: ArtifactRepository | None) -> ArtifactRepository:
    """The repository of ``run``'s artifacts; a server's proxied runs live in its own root.

    A server (``server_root`` given) opens no artifact location outside its own store:
    :class:`~tunetrack.errors.PermissionDenied` for a run whose stored ``artifact_uri``
    names one (written into the database by other means than the server's API).
    """
    uri = run.info.artifact_uri
    if server_root is not None:
        try:
            checked_location(uri, server_root, "artifact_uri")
        except InvalidInput:
            raise PermissionDenied(
                f"the artifacts of run {run.info.run_id} are at {uri!r}, outside this "
                "server's artifact store: the server reads no files outside it"
            ) from None
    if uri.startswith(PROXY_ROOT) and server_root is not None:
        rel = uri[len(PROXY_ROOT) :].strip("/")
        return open_artifacts(f"{server_root.root_uri.rstrip('/')}/{rel}")
    return open_artifacts(uri)


def kind_of(path: str) -> str:
    """How a file previews: image, html, json, csv, text or binary."""
    ext = posixpath.splitext(path)[1].lower()
    if ext in IMAGE_TYPES:
        return "image"
    if ext in _HTML:
        return "html"
    if ext == ".json":
        return "json"
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in _TEXT or posixpath.basename(path) in ("MLmodel", "requirements.txt"):
        return "text"
    return "binary"


@dataclass
class Preview:
    """What the page shows of one file: ``text`` or ``rows`` (CSV), and whether it was cut."""

    path: str
    kind: str
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False


def _decoded(data: bytes, truncated: bool) -> str | None:
    """UTF-8 text (a character cut at the preview's end is replaced), or None for binary."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3:
            return data.decode("utf-8", errors="replace")
        return None


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text  # shown as it is


def preview(repo: ArtifactRepository, path: str) -> Preview:
    """A preview of the file ``path`` (NotFound / InvalidInput from the repository).

    A file of unknown type that decodes as UTF-8 is shown as text.
    """
    result = Preview(path, kind_of(path))
    with repo.open_read(path) as fh:  # NotFound / InvalidInput for a missing file or a dir
        data = b"" if result.kind in ("image", "html") else fh.read(PREVIEW_BYTES + 1)
    if result.kind in ("image", "html"):
        return result
    result.truncated = len(data) > PREVIEW_BYTES
    text = _decoded(data[:PREVIEW_BYTES], result.truncated)
    if text is None:
        result.kind = "binary"
    elif result.kind == "csv":
        dialect = "excel-tab" if path.lower().endswith(".tsv") else "excel"
        reader = csv.reader(io.StringIO(text), dialect=dialect)
        rows = [row for _, row in zip(range(CSV_ROWS + 1), reader, strict=False)]
        result.truncated = result.truncated or len(rows) > CSV_ROWS
        result.rows = rows[:CSV_ROWS]
    else:
        result.kind = "json" if result.kind == "json" else "text"
        result.text = _pretty_json(text) if result.kind == "json" and not result.truncated else text
    return result
