"""MLflow's model-registry endpoints: ``registered-models/…`` (create, get, search, update,
delete, set-tag, alias set/delete/get) and ``model-versions/…`` (create, get, search,
update, delete, set-tag, transition-stage, get-download-uri).

Version numbers travel as strings. A registered model's ``latest_versions`` holds its
highest version (tunetrack keeps no per-stage latest). A version ``source`` under the proxy
is ``mlflow-artifacts:/…`` to MLflow clients and ``tunetrack-artifacts:/…`` in the store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tunetrack.entities import ModelStage, RegisteredModel
from tunetrack.errors import InvalidInput
from tunetrack.server.deps import ArtifactsDep, StoreDep
from tunetrack.server.locations import checked_location
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.shapes import (
    Empty,
    Int64,
    Int64Query,
    KeyValue,
    ModelVersionShape,
    RegisteredModelShape,
    Shape,
    from_mlflow_uri,
    model_version_shape,
    registered_model_shape,
    tags_of,
    to_mlflow_uri,
)
from tunetrack.store.base import Store

router = APIRouter(route_class=MlflowRoute)
_models = "/registered-models"
_versions = "/model-versions"


class ModelRef(Shape):
    name: str


class CreateRegisteredModel(ModelRef):
    tags: list[KeyValue] = []
    description: str = ""


class UpdateRegisteredModel(ModelRef):
    description: str = ""


class SetRegisteredModelTag(ModelRef, KeyValue):
    pass


class DeleteAlias(ModelRef):
    alias: str


class SetAlias(DeleteAlias):
    version: Int64


class CreateModelVersion(ModelRef):
    source: str
    run_id: str | None = None
    tags: list[KeyValue] = []
    description: str = ""


class VersionRef(ModelRef):
    version: Int64


class UpdateModelVersion(VersionRef):
    description: str = ""


class SetModelVersionTag(VersionRef, KeyValue):
    pass


class TransitionStage(VersionRef):
    stage: str
    archive_existing_versions: bool = False


class RegisteredModelResponse(Shape):
    registered_model: RegisteredModelShape


class RegisteredModelsPage(Shape):
    registered_models: list[RegisteredModelShape]
    next_page_token: str | None = None


class ModelVersionResponse(Shape):
    model_version: ModelVersionShape


class ModelVersionsPage(Shape):
    model_versions: list[ModelVersionShape]
    next_page_token: str | None = None


class DownloadUri(Shape):
    artifact_uri: str


def _model(store: Store, model: RegisteredModel) -> RegisteredModelShape:
    latest = model.latest_version
    version = None if latest is None else store.get_model_version(model.name, latest)
    return registered_model_shape(model, version)


#: What MLflow 3 clients add to every registered-model search: "models, not prompts".
PROMPT_TAG = "mlflow.prompt.is_prompt"
_NOT_A_PROMPT = f"tag.`{PROMPT_TAG}` != 'true'"


def _without_prompt_clause(filter_string: str | None) -> tuple[str | None, bool]:
    """``filter_string`` without the clause MLflow clients add, and whether it had it.

    In tunetrack's filters (as in MLflow's run filters) ``!=`` never matches a missing tag,
    so the clause would find no model at all; the route drops it and leaves out models
    tagged as prompts itself.
    """
    if filter_string == _NOT_A_PROMPT:
        return None, True
    suffix = f" AND {_NOT_A_PROMPT}"
    if filter_string and filter_string.endswith(suffix):
        return filter_string[: -len(suffix)], True
    return filter_string, False


def _check_order(order_by: list[str] | None, allowed: tuple[str, ...]) -> None:
    """Refuse an ``order_by`` other than the store's own order (named by ``allowed``)."""
    for clause in order_by or ():
        if " ".join(clause.split()).lower() not in allowed:
            shown = " or ".join(repr(a) for a in allowed) if allowed else "none"
            raise InvalidInput(f"unsupported order_by {clause!r}: this server supports {shown}")


# -- registered models -----------------------------------------------------------------------
@router.post(f"{_models}/create")
def create_registered_model(
    body: CreateRegisteredModel, store: StoreDep
) -> RegisteredModelResponse:
    """Create a model name (RESOURCE_ALREADY_EXISTS when it exists)."""
    model = store.create_registered_model(body.name, body.description, tags_of(body.tags))
    return RegisteredModelResponse(registered_model=registered_model_shape(model))


@router.get(f"{_models}/get")
def get_registered_model(name: str, store: StoreDep) -> RegisteredModelResponse:
    """A registered model with its tags, aliases and latest version."""
    return RegisteredModelResponse(registered_model=_model(store, store.get_registered_model(name)))


@router.get(f"{_models}/search")
def search_registered_models(
    store: StoreDep,
    filter_string: Annotated[str | None, Query(alias="filter")] = None,
    max_results: Int64Query = 100,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: str | None = None,
) -> RegisteredModelsPage:
    """Registered models matching a filter on ``name`` or ``tags.*``, sorted by name."""
    _check_order(order_by, ("name", "name asc"))
    filter_string, models_only = _without_prompt_clause(filter_string)
    page = store.search_registered_models(filter_string or None, max_results, page_token or None)
    models = [m for m in page if not (models_only and m.tags.get(PROMPT_TAG) == "true")]
    return RegisteredModelsPage(
        registered_models=[_model(store, m) for m in models], next_page_token=page.token
    )


@router.patch(f"{_models}/update")
def update_registered_model(
    body: UpdateRegisteredModel, store: StoreDep
) -> RegisteredModelResponse:
    """Change a registered model's description."""
    model = store.update_registered_model(body.name, body.description)
    return RegisteredModelResponse(registered_model=_model(store, model))


@router.delete(f"{_models}/delete")
def delete_registered_model(body: ModelRef, store: StoreDep) -> Empty:
    """Delete a model name with all its versions, tags and aliases."""
    store.delete_registered_model(body.name)
    return Empty()


@router.post(f"{_models}/set-tag")
def set_registered_model_tag(body: SetRegisteredModelTag, store: StoreDep) -> Empty:
    """Set one tag of a registered model."""
    store.set_registered_model_tag(body.name, body.key, body.value)
    return Empty()


@router.post(f"{_models}/alias")
def set_alias(body: SetAlias, store: StoreDep) -> Empty:
    """Point an alias at a version (moving it if it pointed elsewhere)."""
    store.set_registered_model_alias(body.name, body.alias, body.version)
    return Empty()


@router.delete(f"{_models}/alias")
def delete_alias(body: DeleteAlias, store: StoreDep) -> Empty:
    """Remove an alias."""
    store.delete_registered_model_alias(body.name, body.alias)
    return Empty()


@router.get(f"{_models}/alias")
def get_version_by_alias(name: str, alias: str, store: StoreDep) -> ModelVersionResponse:
    """The version an alias points at."""
    version = store.get_model_version_by_alias(name, alias)
    return ModelVersionResponse(model_version=model_version_shape(version))


# -- model versions --------------------------------------------------------------------------
@router.post(f"{_versions}/create")
def create_model_version(
    body: CreateModelVersion, store: StoreDep, artifacts: ArtifactsDep
) -> ModelVersionResponse:
    """Register ``source`` as the next version of an existing model (READY at once); it
    must be in the server's artifact store or a ``runs:/`` or ``models:/`` URI."""
    source = from_mlflow_uri(body.source)
    version = store.create_model_version(
        body.name,
        checked_location(source, artifacts, "model version source", indirect=True),
        run_id=body.run_id or None,
        description=body.description,
        tags=tags_of(body.tags),
    )
    return ModelVersionResponse(model_version=model_version_shape(version))


@router.get(f"{_versions}/get")
def get_model_version(name: str, version: Int64Query, store: StoreDep) -> ModelVersionResponse:
    """One version of a model."""
    return ModelVersionResponse(
        model_version=model_version_shape(store.get_model_version(name, version))
    )


@router.get(f"{_versions}/search")
def search_model_versions(
    store: StoreDep,
    filter_string: Annotated[str | None, Query(alias="filter")] = None,
    max_results: Int64Query = 10_000,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: str | None = None,
) -> ModelVersionsPage:
    """Versions matching a filter on ``name``, ``version``, ``run_id``, ``current_stage``
    (by name, newest version first)."""
    _check_order(order_by, ())
    page = store.search_model_versions(filter_string or None, max_results, page_token or None)
    return ModelVersionsPage(
        model_versions=[model_version_shape(v) for v in page], next_page_token=page.token
    )


@router.patch(f"{_versions}/update")
def update_model_version(body: UpdateModelVersion, store: StoreDep) -> ModelVersionResponse:
    """Change a version's description."""
    version = store.update_model_version(body.name, body.version, body.description)
    return ModelVersionResponse(model_version=model_version_shape(version))


@router.delete(f"{_versions}/delete")
def delete_model_version(body: VersionRef, store: StoreDep) -> Empty:
    """Delete one version (its aliases go with it)."""
    store.delete_model_version(body.name, body.version)
    return Empty()


@router.post(f"{_versions}/set-tag")
def set_model_version_tag(body: SetModelVersionTag, store: StoreDep) -> Empty:
    """Set one tag of a model version."""
    store.set_model_version_tag(body.name, body.version, body.key, body.value)
    return Empty()


@router.post(f"{_versions}/transition-stage")
def transition_stage(body: TransitionStage, store: StoreDep) -> ModelVersionResponse:
    """Move a version to a stage, optionally archiving the others in that stage."""
    version = store.transition_model_version_stage(
        body.name, body.version, ModelStage.parse(body.stage), body.archive_existing_versions
    )
    return ModelVersionResponse(model_version=model_version_shape(version))


@router.get(f"{_versions}/get-download-uri")
def get_download_uri(name: str, version: Int64Query, store: StoreDep) -> DownloadUri:
    """Where a version's files are (its source)."""
    return DownloadUri(artifact_uri=to_mlflow_uri(store.get_model_version(name, version).source))
