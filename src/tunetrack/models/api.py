"""Saving, logging and loading models (MLflow-familiar names).

``save_model`` writes a model directory: the flavor's files, ``requirements.txt``, an
optional ``input_example.json`` and ``model.yaml`` with the sha256 of every file.
``log_model`` saves into a run's artifacts (and can register the result);
``load_model`` resolves a URI, verifies every sha256, and only then deserializes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunetrack.errors import Conflict, InvalidInput
from tunetrack.models.flavors import flavor_for, get_flavor
from tunetrack.models.manifest import (
    INPUT_EXAMPLE,
    REQUIREMENTS,
    Manifest,
    ModelDir,
    hash_directory,
    library_versions,
    now_iso,
    requirements_text,
    write_manifest,
)
from tunetrack.models.signature import ModelSignature, example_to_dict, infer_signature
from tunetrack.models.uri import ResolvedModel, model_directory

if TYPE_CHECKING:
    from tunetrack.entities import ModelVersion

FLAVOR_TAG = "tunetrack.model.{name}.flavor"


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` logged: where the model is, its flavor and signature."""

    run_id: str
    artifact_path: str
    model_uri: str
    flavor: str
    signature: ModelSignature | None
    registered_version: int | None = None


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    flavor: str | None = None,
) -> Manifest:
    """Save ``model`` into the local directory ``path`` (new or empty); return its manifest.

    The flavor is picked from the model's type unless ``flavor`` names one. Without a
    ``signature``, one is inferred from ``input_example`` when given.
    """
    chosen = flavor_for(model) if flavor is None else get_flavor(flavor)
    if flavor is not None and not chosen.accepts(model):
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise InvalidInput(f"flavor {chosen.name!r} cannot save a model of type {kind}")
    if signature is not None and not isinstance(signature, ModelSignature):
        raise InvalidInput(
            f"signature must be a ModelSignature (see infer_signature), got {type(signature)}"
        )
    target = os.path.abspath(os.fspath(path))
    existed = os.path.exists(target)
    if existed and (not os.path.isdir(target) or os.listdir(target)):
        raise Conflict(f"cannot save a model into {target}: it exists and is not empty")
    os.makedirs(target, exist_ok=True)
    try:
        options = chosen.save(model, target)
        example_file = None
        if input_example is not None:
            if signature is None:
                signature = infer_signature(input_example)
            with open(os.path.join(target, INPUT_EXAMPLE), "w", encoding="utf-8") as fh:
                json.dump(example_to_dict(input_example), fh, allow_nan=False)
            example_file = INPUT_EXAMPLE
        modules = chosen.requirements(model)
        if signature is not None:
            modules = (*modules, "pandas")  # ModelSignature.check works on DataFrames
        with open(os.path.join(target, REQUIREMENTS), "w", encoding="utf-8") as fh:
            fh.write(requirements_text(modules))
        manifest = Manifest(
            flavor=chosen.name,
            model_module=type(model).__module__,
            model_class=type(model).__qualname__,
            files=hash_directory(target),
            libraries=library_versions(modules),
            flavor_options=options,
            signature=signature,
            input_example=example_file,
            created=now_iso(),
        )
        write_manifest(target, manifest)
    except BaseException:
        if existed:
            for entry in os.listdir(target):
                _remove(os.path.join(target, entry))
        else:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return manifest


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def log_model(
    model: Any,
    name: str = "model",
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    flavor: str | None = None,
) -> ModelInfo:
    """Save ``model`` under the artifact path ``name`` of ``run_id`` or the active run.

    With no active run one is started, as ``log_param`` does. The run is tagged
    ``tunetrack.model.<name>.flavor``; ``registered_model_name`` registers the model as
    that model's next version.
    """
    from tunetrack import _validation
    from tunetrack.tracking import fluent

    artifact_path = _artifact_path(name)
    tag_key = _validation.validate_key(FLAVOR_TAG.format(name=artifact_path), "tag")
    run_id, client = fluent.target_run(run_id)
    if client.list_artifacts(run_id, artifact_path):
        raise Conflict(
            f"run {run_id} already has artifacts at {artifact_path!r}: log the model under "
            "another name"
        )
    with tempfile.TemporaryDirectory(prefix="tunetrack-model-") as tmp:
        local = os.path.join(tmp, "model")
        manifest = save_model(
            model, local, signature=signature, input_example=input_example, flavor=flavor
        )
        client.log_artifacts(run_id, local, artifact_path)
    client.set_tag(run_id, tag_key, manifest.flavor)
    model_uri = f"runs:/{run_id}/{artifact_path}"
    version = None
    if registered_model_name is not None:
        version = int(client.register_model(model_uri, registered_model_name).version)
    return ModelInfo(run_id, artifact_path, model_uri, manifest.flavor, manifest.signature, version)


def _artifact_path(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"model name must be a string, got {name!r}")
    parts = name.replace("\\", "/").strip("/").split("/")
    if not name.strip() or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"model name must be a relative artifact path such as 'model': {name!r}")
    return "/".join(parts)


def load_model(model_uri: str | os.PathLike[str], *, dst_path: str | None = None) -> Any:
    """The native model object at ``model_uri``, after checking every file's sha256.

    Accepts ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``,
    ``models:/<name>/latest``, ``models:/<name>@<alias>``, a local model directory, or an
    fsspec URL of one. Remote files are copied to ``dst_path`` (a temp dir by default).
    """
    return load_model_and_manifest(model_uri, dst_path=dst_path)[0]


def load_model_and_manifest(
    model_uri: str | os.PathLike[str], *, dst_path: str | None = None, flavor: str | None = None
) -> tuple[Any, Manifest]:
    """The model and its manifest (signature, libraries); ``flavor`` must match if given."""
    model, manifest, _ = load_model_details(model_uri, dst_path=dst_path, flavor=flavor)
    return model, manifest


def load_model_details(
    model_uri: str | os.PathLike[str], *, dst_path: str | None = None, flavor: str | None = None
) -> tuple[Any, Manifest, ModelVersion | None]:
    """The model, its manifest, and the registered version a ``models:/`` URI resolved to."""
    with model_directory(model_uri, dst_path) as found:
        model_dir = _verified(found)
        manifest = model_dir.manifest
        if flavor is not None and manifest.flavor != flavor:
            raise InvalidInput(
                f"the model at {os.fspath(model_uri)!r} has flavor {manifest.flavor!r}, not "
                f"{flavor!r}: load it with tunetrack.models.load_model"
            )
        return get_flavor(manifest.flavor).load(model_dir), manifest, found.version


def read_manifest(model_uri: str | os.PathLike[str], *, dst_path: str | None = None) -> Manifest:
    """The verified manifest of the model at ``model_uri``, without loading the model."""
    with model_directory(model_uri, dst_path) as found:
        return _verified(found).manifest


def _verified(found: ResolvedModel) -> ModelDir:
    """The model directory, its manifest checked against the registry, its files against it."""
    return ModelDir(found.path, registered=found.version)
