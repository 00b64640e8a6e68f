"""The model-registry half of the Store interface (every backend implements both halves).

Versions of a model are numbered 1, 2, 3 … with no gaps and no duplicates, even when
several processes register at once. Moving an alias is one atomic write. Deleting a
registered model deletes its versions, tags and aliases.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from tunetrack.entities import ModelStage, ModelVersion, PagedList, RegisteredModel


class ModelRegistry(abc.ABC):
    """Registered models, their versions, tags, aliases and stages."""

    @abc.abstractmethod
    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a model name (Conflict if it exists)."""

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its tags, aliases and latest version number."""

    @abc.abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching a filter on ``name`` or ``tags.*``, by name."""

    @abc.abstractmethod
    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Change a registered model's description."""

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Delete a model name with all its versions, tags and aliases."""

    @abc.abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""

    @abc.abstractmethod
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
        """Register ``source`` as the next version of an existing model.

        ``manifest_sha256`` is the sha256 of the model's ``model.yaml``; loading the version
        refuses a manifest that no longer matches it. A call repeated with the same
        ``request_id`` (1-64 letters, digits, '-' or '_') returns the version the first
        registered, as a retry after a lost answer must.
        """

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a model."""

    @abc.abstractmethod
    def get_latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version of a model."""

    @abc.abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching a filter on ``name``, ``version``, ``run_id``, ``current_stage``."""

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Change a version's description."""

    @abc.abstractmethod
    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: ModelStage,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version to a stage, optionally archiving the others in that stage."""

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete one version (its aliases go with it)."""

    @abc.abstractmethod
    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        """Set one tag of a model version."""

    @abc.abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version`` (moving it atomically if it pointed elsewhere)."""

    @abc.abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
