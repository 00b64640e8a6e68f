"""``model.yaml``: what a saved model is, what it needs, and the sha256 of every file.

Library versions come from :mod:`importlib.metadata` (never a pip subprocess) and are
cached per process. :class:`ModelDir` checks every listed sha256 before anything is read
for loading, and re-checks the bytes it hands to a loader, so a file changed between the
check and the load is refused too. For a registered version it first checks ``model.yaml``
itself against the sha256 recorded at registration, so files swapped together with their
manifest are refused as well.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tunetrack.errors import InvalidInput, NotFound
from tunetrack.models.signature import ModelSignature

if TYPE_CHECKING:
    from tunetrack.entities import ModelVersion

MANIFEST = "model.yaml"
REQUIREMENTS = "requirements.txt"
INPUT_EXAMPLE = "input_example.json"
FORMAT_VERSION = 1

#: Import name -> distribution names to try, for libraries whose names differ.
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "lightgbm": ("lightgbm",),
    "tunetrack": ("tunetrack",),
}


class ModelIntegrityError(InvalidInput):
    """A model file is missing, changed, or not listed in its ``model.yaml``."""


@dataclass(frozen=True)
class Manifest:
    """The contents of ``model.yaml``."""

    flavor: str
    model_module: str
    model_class: str
    files: Mapping[str, str]  # relative path -> sha256, every file but model.yaml
    libraries: Mapping[str, str] = field(default_factory=dict)
    flavor_options: Mapping[str, Any] = field(default_factory=dict)
    signature: ModelSignature | None = None
    input_example: str | None = None
    created: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The YAML document (keys in a readable order)."""
        return {
            "format_version": self.format_version,
            "flavor": self.flavor,
            "model_module": self.model_module,
            "model_class": self.model_class,
            "flavor_options": dict(self.flavor_options),
            "created": self.created,
            "libraries": dict(self.libraries),
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = MANIFEST) -> Manifest:
        """Parse a ``model.yaml`` document; InvalidInput when it is malformed."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{where} is not a mapping")
        missing = [k for k in ("flavor", "model_module", "model_class", "files") if k not in data]
        if missing:
            raise InvalidInput(f"{where} lacks {', '.join(missing)}")
        files = data["files"]
        if not isinstance(files, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise InvalidInput(f"{where}: files must map relative paths to sha256 strings")
        signature = data.get("signature")
        version = data.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise InvalidInput(
                f"{where} has format_version {version!r}; this tunetrack reads up to "
                f"{FORMAT_VERSION}: upgrade tunetrack"
            )
        return cls(
            flavor=str(data["flavor"]),
            model_module=str(data["model_module"]),
            model_class=str(data["model_class"]),
            files=dict(files),
            libraries=dict(data.get("libraries") or {}),
            flavor_options=dict(data.get("flavor_options") or {}),
            signature=None if signature is None else ModelSignature.from_dict(signature),
            input_example=data.get("input_example"),
            created=str(data.get("created", "")),
            format_version=version,
        )


def now_iso() -> str:
    """The current UTC time, ISO-8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- library versions and requirements ---------------------------------------------------
@functools.cache
def distribution_version(module: str) -> tuple[str, str] | None:
    """``(distribution name, version)`` installed for the top-level import ``module``."""
    import importlib.metadata as md

    for dist in _DISTRIBUTIONS.get(module, (module,)):
        try:
            return dist, md.version(dist)
        except md.PackageNotFoundError:
            continue
    for dist in _packages_distributions().get(module, ()):  # slow scan: only when unknown
        try:
            return dist, md.version(dist)
        except md.PackageNotFoundError:
            continue
    return None


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    import importlib.metadata as md

    return md.packages_distributions()


def library_versions(modules: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` for ``modules`` plus python and tunetrack."""
    versions = {"python": platform.python_version()}
    for module in ("tunetrack", *modules):
        found = distribution_version(module)
        if found is not None:
            versions[found[0]] = found[1]
    return versions


def requirements_text(modules: Iterable[str]) -> str:
    """Pinned ``dist==version`` lines for the installed ``modules`` (missing ones skipped)."""
    lines = []
    for module in dict.fromkeys(modules):
        found = distribution_version(module)
        if found is not None:
            lines.append(f"{found[0]}=={found[1]}")
    return "".join(f"{line}\n" for line in sorted(set(lines), key=str.lower))


# -- files and hashes --------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_directory(directory: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every regular file except model.yaml."""
    root = os.fspath(directory)
    files: dict[str, str] = {}
    for parent, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(parent, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if rel != MANIFEST and os.path.isfile(path) and not os.path.islink(path):
                files[rel] = sha256_file(path)
    return files


def write_manifest(directory: str | os.PathLike[str], manifest: Manifest) -> None:
    """Write ``model.yaml`` into ``directory``."""
    import yaml

    text = yaml.safe_dump(manifest.to_dict(), sort_keys=False, allow_unicode=True)
    with open(os.path.join(directory, MANIFEST), "w", encoding="utf-8") as fh:
        fh.write(text)


def parse_manifest(data: bytes, where: str) -> Manifest:
    """The manifest in the bytes of a ``model.yaml``; InvalidInput when it is malformed."""
    import yaml

    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{where} is not valid YAML: {exc}") from None
    return Manifest.from_dict(document, where)


class ModelDir:
    """A local model directory whose files have been checked against its ``model.yaml``.

    Opening it reads the manifest (NotFound when the directory or model.yaml is missing)
    and verifies every listed file; :meth:`read_bytes` hands out only listed files, and
    re-checks their hash on the bytes returned. ``registered`` is the version a
    ``models:/`` URI named: a ``model.yaml`` whose sha256 differs from the one recorded
    when that version was registered is refused before anything else is read (versions
    registered before schema revision 0003 recorded none: they get the file checks only).
    """

    def __init__(
        self, path: str | os.PathLike[str], registered: ModelVersion | None = None
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if not os.path.isdir(self.path):
            what = "is not a directory" if os.path.exists(self.path) else "does not exist"
            raise NotFound(f"model directory {self.path} {what}")
        manifest_path = os.path.join(self.path, MANIFEST)
        if not os.path.isfile(manifest_path):
            raise NotFound(f"no {MANIFEST} in {self.path}: not a tunetrack model directory")
        with open(manifest_path, "rb") as fh:
            data = fh.read()
        expected = None if registered is None else registered.manifest_sha256
        if registered is not None and expected is not None:
            actual = sha256_bytes(data)
            if actual != expected:
                raise ModelIntegrityError(
                    f"{MANIFEST} of {registered.name} version {registered.version} in "
                    f"{self.path} is not the one registered (sha256 {expected[:12]}… recorded "
                    f"at registration, found {actual[:12]}…): the model's files changed after "
                    "it was registered; refusing to load it"
                )
        self.manifest = parse_manifest(data, manifest_path)
        self._real_root = os.path.realpath(self.path)
        for rel, expected in self.manifest.files.items():
            actual = sha256_file(self._file(rel))
            if actual != expected:
                raise ModelIntegrityError(
                    f"model file {rel!r} in {self.path} does not match its sha256 in {MANIFEST} "
                    f"(expected {expected[:12]}…, found {actual[:12]}…): refusing to load it"
                )

    def _file(self, rel: str) -> str:
        parts = rel.split("/")
        if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ModelIntegrityError(f"{MANIFEST} in {self.path} lists a bad file path {rel!r}")
        path = os.path.join(self.path, *parts)
        real = os.path.realpath(path)
        if not real.startswith(self._real_root + os.sep):
            raise ModelIntegrityError(f"model file {rel!r} resolves outside {self.path}")
        if not os.path.isfile(path):
            raise ModelIntegrityError(
                f"model file {rel!r} listed in {MANIFEST} is missing from {self.path}"
            )
        return path

    def read_bytes(self, rel: str) -> bytes:
        """The contents of a file listed in the manifest, checked against its sha256."""
        expected = self.manifest.files.get(rel)
        if expected is None:
            raise ModelIntegrityError(
                f"model file {rel!r} is not listed in {MANIFEST} of {self.path}: refusing it"
            )
        with open(self._file(rel), "rb") as fh:
            data = fh.read()
        if sha256_bytes(data) != expected:
            raise ModelIntegrityError(
                f"model file {rel!r} in {self.path} changed after it was verified: refusing it"
            )
        return data
