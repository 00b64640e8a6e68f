"""``/api/registered-models/…`` and ``/api/model-versions/…``: the model registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tunetrack.server.api import schemas as s
from tunetrack.server.deps import ArtifactsDep, StoreDep
from tunetrack.server.locations import checked_location

router = APIRouter(prefix="/api", tags=["registry"])
_models = "/registered-models"
_versions = "/model-versions"


@router.post(f"{_models}/create")
def create_registered_model(
    body: s.CreateRegisteredModel, store: StoreDep
) -> s.RegisteredModelResponse:
    """Create a model name (409 when it exists)."""
    model = store.create_registered_model(body.name, body.description, body.tags)
    return s.RegisteredModelResponse(registered_model=model)


@router.get(f"{_models}/get")
def get_registered_model(name: str, store: StoreDep) -> s.RegisteredModelResponse:
    """A registered model with its tags, aliases and latest version number."""
    return s.RegisteredModelResponse(registered_model=store.get_registered_model(name))


@router.post(f"{_models}/search")
def search_registered_models(body: s.SearchRequest, store: StoreDep) -> s.RegisteredModelsPage:
    """Registered models matching a filter on ``name`` or ``tags.*``, by name."""
    page = store.search_registered_models(body.filter_string, body.max_results, body.page_token)
    return s.RegisteredModelsPage(registered_models=page, next_page_token=page.token)


@router.post(f"{_models}/update")
def update_registered_model(
    body: s.UpdateRegisteredModel, store: StoreDep
) -> s.RegisteredModelResponse:
    """Change a registered model's description."""
    model = store.update_registered_model(body.name, body.description)
    return s.RegisteredModelResponse(registered_model=model)


@router.post(f"{_models}/delete")
def delete_registered_model(body: s.ModelRef, store: StoreDep) -> s.Empty:
    """Delete a model name with all its versions, tags and aliases."""
    store.delete_registered_model(body.name)
    return s.Empty()


@router.post(f"{_models}/set-tag")
def set_registered_model_tag(body: s.SetRegisteredModelTag, store: StoreDep) -> s.Empty:
    """Set one tag of a registered model."""
    store.set_registered_model_tag(body.name, body.key, body.value)
    return s.Empty()


@router.post(f"{_models}/set-alias")
def set_alias(body: s.SetAlias, store: StoreDep) -> s.Empty:
    """Point an alias at a version (moving it if it pointed elsewhere)."""
    store.set_registered_model_alias(body.name, body.alias, body.version)
    return s.Empty()


@router.post(f"{_models}/delete-alias")
def delete_alias(body: s.DeleteAlias, store: StoreDep) -> s.Empty:
    """Remove an alias."""
    store.delete_registered_model_alias(body.name, body.alias)
    return s.Empty()


@router.get(f"{_models}/alias")
def get_version_by_alias(name: str, alias: str, store: StoreDep) -> s.ModelVersionResponse:
    """The version an alias points at."""
    return s.ModelVersionResponse(model_version=store.get_model_version_by_alias(name, alias))


@router.post(f"{_versions}/create")
def create_model_version(
    body: s.CreateModelVersion, store: StoreDep, artifacts: ArtifactsDep
) -> s.ModelVersionResponse:
    """Register ``source`` as the next version of an existing model; the source must be in
    the server's artifact store or a ``runs:/`` or ``models:/`` URI (400 otherwise)."""
    version = store.create_model_version(
        body.name,
        checked_location(body.source, artifacts, "model version source", indirect=True),
        run_id=body.run_id,
        description=body.description,
        tags=body.tags,
        manifest_sha256=body.manifest_sha256,
        request_id=body.request_id,
    )
    return s.ModelVersionResponse(model_version=version)


@router.get(f"{_versions}/get")
def get_model_version(
    name: str, version: Annotated[int, Query(**s.INT64)], store: StoreDep
) -> s.ModelVersionResponse:
    """One version of a model."""
    return s.ModelVersionResponse(model_version=store.get_model_version(name, version))


@router.get(f"{_versions}/get-latest")
def get_latest_version(name: str, store: StoreDep) -> s.ModelVersionResponse:
    """The highest-numbered version of a model."""
    return s.ModelVersionResponse(model_version=store.get_latest_version(name))


@router.post(f"{_versions}/search")
def search_model_versions(body: s.SearchRequest, store: StoreDep) -> s.ModelVersionsPage:
    """Versions matching a filter on ``name``, ``version``, ``run_id``, ``current_stage``."""
    page = store.search_model_versions(body.filter_string, body.max_results, body.page_token)
    return s.ModelVersionsPage(model_versions=page, next_page_token=page.token)


@router.post(f"{_versions}/update")
def update_model_version(body: s.UpdateModelVersion, store: StoreDep) -> s.ModelVersionResponse:
    """Change a version's description."""
    version = store.update_model_version(body.name, body.version, body.description)
    return s.ModelVersionResponse(model_version=version)


@router.post(f"{_versions}/transition-stage")
def transition_stage(body: s.TransitionStage, store: StoreDep) -> s.ModelVersionResponse:
    """Move a version to a stage, optionally archiving the others in that stage."""
    version = store.transition_model_version_stage(
        body.name, body.version, body.stage, body.archive_existing_versions
    )
    return s.ModelVersionResponse(model_version=version)


@router.post(f"{_versions}/delete")
def delete_model_version(body: s.VersionRef, store: StoreDep) -> s.Empty:
    """Delete one version (its aliases go with it)."""
    store.delete_model_version(body.name, body.version)
    return s.Empty()


@router.post(f"{_versions}/set-tag")
def set_model_version_tag(body: s.SetModelVersionTag, store: StoreDep) -> s.Empty:
    """Set one tag of a model version."""
    store.set_model_version_tag(body.name, body.version, body.key, body.value)
    return s.Empty()
