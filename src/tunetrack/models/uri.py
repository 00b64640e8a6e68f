"""Model URIs: parsing ``runs:/``, ``models:/`` and locations, and resolving them to a directory.

A model in a run whose artifact root is local is read in place; anything remote is
downloaded to ``dst_path`` or to a temporary directory removed once the model is loaded.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunetrack.errors import InvalidInput, NotFound
from tunetrack.store.artifacts import local_path

if TYPE_CHECKING:
    from tunetrack.entities import ModelVersion
    from tunetrack.tracking.client import Client

ACCEPTED_FORMS = (
    "runs:/<run_id>/<path>",
    "models:/<name>/<version>",
    "models:/<name>/latest",
    "models:/<name>/<stage> (Staging, Production, Archived)",
    "models:/<name>@<alias>",
    "a local model directory (a path or file:// URI)",
    "an fsspec URL of a model directory (s3://..., memory://...)",
)

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_BAD_SEGMENTS = {"", ".", ".."}
_STAGES = {s.lower(): s for s in ("Staging", "Production", "Archived")}


@dataclass(frozen=True)
class ModelUri:
    """A parsed model URI: ``kind`` is 'runs', 'models' or 'location'."""

    kind: str
    uri: str
    run_id: str | None = None
    path: str | None = None
    name: str | None = None
    version: int | None = None  # None with alias None: the latest version
    alias: str | None = None
    stage: str | None = None  # the latest version in this stage
    location: str | None = None


def _malformed(uri: object, reason: str) -> InvalidInput:
    forms = "; ".join(ACCEPTED_FORMS)
    return InvalidInput(f"malformed model URI {uri!r}: {reason}. Accepted forms: {forms}")


def parse_model_uri(uri: str | os.PathLike[str]) -> ModelUri:
    """Parse a model URI; InvalidInput listing the accepted forms when it is malformed."""
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri.strip():
        raise _malformed(uri, "expected a non-empty string")
    if uri.startswith("runs:"):
        rest = uri[len("runs:") :]
        if not rest.startswith("/"):
            raise _malformed(uri, "runs URIs start with 'runs:/'")
        run_id, _, path = rest.lstrip("/").partition("/")
        path = path.strip("/")
        if not run_id or not path:
            raise _malformed(uri, "a runs URI needs a run id and an artifact path")
        if any(part in _BAD_SEGMENTS for part in path.split("/")) or "\\" in path:
            raise _malformed(uri, f"bad artifact path {path!r}")
        return ModelUri("runs", uri, run_id=run_id, path=path)
    if uri.startswith("models:"):
        rest = uri[len("models:") :]
        if not rest.startswith("/"):
            raise _malformed(uri, "registry URIs start with 'models:/'")
        rest = rest.lstrip("/")
        if "@" in rest:
            name, _, alias = rest.rpartition("@")
            if not name or not alias or "/" in alias:
                raise _malformed(uri, "an alias URI is models:/<name>@<alias>")
            return ModelUri("models", uri, name=name, alias=alias)
        name, _, version = rest.rpartition("/")
        if not name or not version:
            raise _malformed(uri, "a registry URI needs a model name and a version or alias")
        if version.lower() == "latest":
            return ModelUri("models", uri, name=name)
        if version.lower() in _STAGES:
            return ModelUri("models", uri, name=name, stage=_STAGES[version.lower()])
        if not version.isdigit() or int(version) < 1:
            raise _malformed(
                uri, f"version {version!r} is not a positive integer, 'latest' or a stage"
            )
        return ModelUri("models", uri, name=name, version=int(version))
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme in ("", "file") or _DRIVE.match(uri) or "://" in uri:
        return ModelUri("location", uri, location=uri)
    raise _malformed(uri, f"unknown scheme {scheme + ':'!r}")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model URI led: its local directory and, for ``models:/``, the version."""

    path: str
    version: ModelVersion | None = None


def registry_version(parsed: ModelUri, client: Client) -> ModelVersion:
    """The registered version a ``models:/`` URI names now (by number, alias, stage or latest).

    This is the one place a registry URI becomes a version: loading and serving both use it.
    """
    assert parsed.name is not None, "a models:/ URI"
    if parsed.alias is not None:
        return client.get_model_version_by_alias(parsed.name, parsed.alias)
    if parsed.version is not None:
        return client.get_model_version(parsed.name, parsed.version)
    return client.get_latest_version(parsed.name, parsed.stage)


@contextlib.contextmanager
def model_directory(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    client: Client | None = None,
) -> Iterator[ResolvedModel]:
    """The local directory holding the model at ``model_uri``, for the ``with`` block.

    Local models are used in place. Remote ones are copied to ``dst_path`` (kept) or to a
    temporary directory (removed when the block ends).
    """
    parsed = parse_model_uri(model_uri)
    with contextlib.ExitStack() as stack:

        def scratch() -> str:
            if dst_path is not None:
                target = os.path.abspath(os.fspath(dst_path))
                os.makedirs(target, exist_ok=True)
                return target
            return stack.enter_context(tempfile.TemporaryDirectory(prefix="tunetrack-model-"))

        yield _resolve(parsed, client, scratch)


def _resolve(parsed: ModelUri, client: Client | None, scratch: Callable[[], str]) -> ResolvedModel:
    if parsed.kind == "models":
        client = client or _default_client()
        version = registry_version(parsed, client)
        source = parse_model_uri(version.source)
        if source.kind == "models":
            raise InvalidInput(
                f"{parsed.uri} points at another registry URI {version.source!r}; a version's "
                "source must be a runs:/ URI or an artifact location"
            )
        return ResolvedModel(_resolve(source, client, scratch).path, version)
    if parsed.kind == "runs":
        client = client or _default_client()
        assert parsed.run_id is not None
        assert parsed.path is not None
        root = client.get_run(parsed.run_id).info.artifact_uri
        return ResolvedModel(_from_artifacts(root, parsed.path, f"run {parsed.run_id}", scratch))
    assert parsed.location is not None
    local = local_path(parsed.location)
    if local is not None:
        if not os.path.isdir(local):
            what = "is not a directory" if os.path.exists(local) else "does not exist"
            raise NotFound(f"model directory {local} {what}")
        return ResolvedModel(local)
    return ResolvedModel(_from_artifacts(parsed.location, "", parsed.location, scratch))


def _from_artifacts(root_uri: str, rel: str, owner: str, scratch: Callable[[], str]) -> str:
    """The directory ``rel`` of an artifact root: in place when local, else downloaded."""
    from tunetrack.store.uri import open_artifacts

    repo = open_artifacts(root_uri)
    if repo.local_root is not None:  # read in place (symlink escapes refused)
        path = repo.checked_local_path(rel)
        if not os.path.isdir(path):
            raise NotFound(f"no model directory {rel!r} in the artifacts of {owner} ({path})")
        return path
    try:
        return repo.download_artifacts(rel, scratch())
    except NotFound:
        raise NotFound(
            f"no model directory {rel!r} in the artifacts of {owner} ({root_uri})"
        ) from None


def _default_client() -> Client:
    from tunetrack.tracking import fluent

    return fluent.default_client()
