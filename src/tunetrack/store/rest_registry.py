"""The model-registry half of RestStore (``/api/registered-models``, ``/api/model-versions``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar, overload

from pydantic import BaseModel

from tunetrack import _validation as v
from tunetrack.entities import ModelStage, ModelVersion, PagedList, RegisteredModel
from tunetrack.errors import Conflict, NotFound, TunetrackError
from tunetrack.server.api import schemas as s
from tunetrack.store._http import DoneBefore
from tunetrack.store.artifacts_http import proxied_to_url, url_to_proxied
from tunetrack.store.registry import ModelRegistry

_MODELS = "/api/registered-models"
_VERSIONS = "/api/model-versions"
_M = TypeVar("_M", bound=BaseModel)


class _Get(Protocol):
    def __call__(self, path: str, model: type[_M], **params: Any) -> _M: ...


class _Post(Protocol):
    def __call__(
        self,
        path: str,
        model: type[_M],
        body: dict[str, Any],
        *,
        idempotent: bool,
        done_if: type[TunetrackError] | None = None,
    ) -> _M: ...


class _Do(Protocol):
    def __call__(
        self,
        path: str,
        body: dict[str, Any],
        *,
        idempotent: bool,
        done_if: type[TunetrackError] | None = None,
    ) -> None: ...


@overload
def checked_tags(tags: Mapping[str, object], what: str = "tag") -> dict[str, str]: ...
@overload
def checked_tags(tags: Mapping[str, object] | None, what: str = "tag") -> dict[str, str] | None: ...
def checked_tags(tags: Mapping[str, object] | None, what: str = "tag") -> dict[str, str] | None:
    """Tags or params checked and stringified as the store would (early, before sending)."""
    if tags is None:
        return None
    limit = v.MAX_PARAM_VALUE_LENGTH if what == "param" else v.MAX_TAG_VALUE_LENGTH
    return {
        v.validate_key(k, what): v.validate_value(val, what, k, limit) for k, val in tags.items()
    }


class RestRegistryMixin(ModelRegistry):
    """Registered models, versions, tags, aliases and stages over HTTP."""

    base_url: str
    # RestStore's transport: GET/POST a path, the answer parsed as the given schema
    _get: _Get
    _post: _Post
    _do: _Do

    def _version(self, mv: ModelVersion) -> ModelVersion:
        return replace(mv, source=proxied_to_url(mv.source, self.base_url))

    @staticmethod
    def _page_body(
        filter_string: str | None, max_results: int, page_token: str | None
    ) -> dict[str, Any]:
        return {
            "filter_string": filter_string,
            "max_results": max_results,
            "page_token": page_token,
        }

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a model name (Conflict if it exists)."""
        body = {"name": name, "description": description, "tags": checked_tags(tags)}
        path = f"{_MODELS}/create"
        try:
            created = self._post(
                path, s.RegisteredModelResponse, body, idempotent=False, done_if=Conflict
            )
        except DoneBefore:  # our first attempt created it; its answer was lost
            return self.get_registered_model(name)
        return created.registered_model

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its tags, aliases and latest version number."""
        path = f"{_MODELS}/get"
        return self._get(path, s.RegisteredModelResponse, name=name).registered_model

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching a filter on ``name`` or ``tags.*``, by name."""
        body = self._page_body(filter_string, max_results, page_token)
        page = self._post(f"{_MODELS}/search", s.RegisteredModelsPage, body, idempotent=True)
        return PagedList(page.registered_models, page.next_page_token)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Change a registered model's description."""
        body = {"name": name, "description": description}
        path = f"{_MODELS}/update"
        return self._post(path, s.RegisteredModelResponse, body, idempotent=True).registered_model

    def delete_registered_model(self, name: str) -> None:
        """Delete a model name with all its versions, tags and aliases."""
        self._do(f"{_MODELS}/delete", {"name": name}, idempotent=False, done_if=NotFound)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""
        body = {"name": name, "key": key, "value": value}
        self._do(f"{_MODELS}/set-tag", body, idempotent=True)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        manifest_sha256: str | None = None,
        request_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of an existing model, once per
        ``request_id`` (this call's own when not given, so its retries register once)."""
        body = {
            "name": name,
            "source": url_to_proxied(source, self.base_url),
            "run_id": run_id,
            "description": description,
            "tags": checked_tags(tags),
            "manifest_sha256": manifest_sha256,
            "request_id": uuid.uuid4().hex if request_id is None else request_id,
        }
        created = self._post(f"{_VERSIONS}/create", s.ModelVersionResponse, body, idempotent=True)
        return self._version(created.model_version)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a model."""
        got = self._get(
            f"{_VERSIONS}/get", s.ModelVersionResponse, name=name, version=v.version_number(version)
        )
        return self._version(got.model_version)

    def get_latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version of a model."""
        got = self._get(f"{_VERSIONS}/get-latest", s.ModelVersionResponse, name=name)
        return self._version(got.model_version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching a filter on ``name``, ``version``, ``run_id``, ``current_stage``."""
        body = self._page_body(filter_string, max_results, page_token)
        page = self._post(f"{_VERSIONS}/search", s.ModelVersionsPage, body, idempotent=True)
        return PagedList([self._version(mv) for mv in page.model_versions], page.next_page_token)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Change a version's description."""
        body = {"name": name, "version": v.version_number(version), "description": description}
        updated = self._post(f"{_VERSIONS}/update", s.ModelVersionResponse, body, idempotent=True)
        return self._version(updated.model_version)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: ModelStage,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version to a stage, optionally archiving the others in that stage."""
        body = {
            "name": name,
            "version": v.version_number(version),
            "stage": ModelStage.parse(stage).value,
            "archive_existing_versions": archive_existing_versions,
        }
        moved = self._post(
            f"{_VERSIONS}/transition-stage", s.ModelVersionResponse, body, idempotent=True
        )
        return self._version(moved.model_version)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete one version (its aliases go with it)."""
        body = {"name": name, "version": v.version_number(version)}
        self._do(f"{_VERSIONS}/delete", body, idempotent=False, done_if=NotFound)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        """Set one tag of a model version."""
        body = {"name": name, "version": v.version_number(version), "key": key, "value": value}
        self._do(f"{_VERSIONS}/set-tag", body, idempotent=True)

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version`` (moving it atomically if it pointed elsewhere)."""
        body = {"name": name, "alias": alias, "version": v.version_number(version)}
        self._do(f"{_MODELS}/set-alias", body, idempotent=True)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        body = {"name": name, "alias": alias}
        self._do(f"{_MODELS}/delete-alias", body, idempotent=False, done_if=NotFound)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        got = self._get(f"{_MODELS}/alias", s.ModelVersionResponse, name=name, alias=alias)
        return self._version(got.model_version)
