"""The model-registry methods of :class:`~tunetrack.tracking.client.Client`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from tunetrack.entities import ModelStage, ModelVersion, PagedList, RegisteredModel
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import Store
from tunetrack.store.uri import open_artifacts

_RUNS_URI = re.compile(r"runs:/(?P<run_id>[^/]+)/(?P<path>.+)")


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` as (run_id, path), or InvalidInput."""
    match = _RUNS_URI.fullmatch(model_uri.strip())
    if match is None:
        raise InvalidInput(
            f"cannot register {model_uri!r}: give a model logged in a run, runs:/<run_id>/<path>"
        )
    return match["run_id"], match["path"].strip("/")


class RegistryClientMixin:
    """Registered models, versions, aliases and stages (MLflow's method names)."""

    store: Store

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str = ""
    ) -> RegisteredModel:
        """Create a registered model name."""
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_registered_model(name, description, tags)

    def register_model(
        self,
        model_uri: str,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register the model at ``runs:/<run_id>/<path>`` as the next version of ``name``.

        Creates the registered model on first use. NotFound if the run has no model there.
        The version records the sha256 of the model's ``model.yaml``, so loading it later
        refuses a model whose files were swapped after registration.
        """
        run_id, path = parse_runs_uri(model_uri)
        source = f"runs:/{run_id}/{path}"
        manifest_sha256 = self._manifest_sha256(source)
        if manifest_sha256 is None:
            raise NotFound(
                f"run {run_id} has no model at artifact path {path!r} (no model.yaml): log one "
                "with tunetrack.models.log_model"
            )
        with contextlib.suppress(Conflict):  # it exists already: add a version
            self.store.create_registered_model(name)
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_model_version(
            name,
            source,
            run_id=run_id,
            description=description,
            tags=tags,
            manifest_sha256=manifest_sha256,
        )

    def _manifest_sha256(self, source: str) -> str | None:
        """The sha256 of the ``model.yaml`` at ``source`` (checked), or None if it has none."""
        from tunetrack.models.manifest import MANIFEST, parse_manifest, sha256_bytes

        if source.startswith("runs:/"):
            run_id, path = parse_runs_uri(source)
            location, name = self.store.get_run(run_id).info.artifact_uri, f"{path}/{MANIFEST}"
        else:
            location, name = source, MANIFEST
        try:
            manifest = open_artifacts(location).read_bytes(name)
        except (NotFound, OSError, ImportError, ValueError):  # absent, or unreachable from here
            return None
        parse_manifest(manifest, f"{MANIFEST} of {source}")  # InvalidInput when malformed
        return sha256_bytes(manifest)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        description: str = "",
    ) -> ModelVersion:
        """Add ``source`` (where the model's files are) as the next version of ``name``.

        When ``source`` holds a ``model.yaml`` (a ``runs:/`` URI or a model directory), the
        version records its sha256 as :meth:`register_model` does.
        """
        tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_model_version(
            name,
            source,
            run_id=run_id,
            description=description,
            tags=tags,
            manifest_sha256=self._manifest_sha256(source),
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its aliases and latest version number."""
        return self.store.get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models, e.g. ``filter_string="name LIKE 'iris%'"``."""
        return self.store.search_registered_models(filter_string, max_results, page_token)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Change a registered model's description."""
        return self.store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model and all its versions."""
        self.store.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a registered model's tag."""
        self.store.set_registered_model_tag(name, key, str(value))

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a registered model."""
        return self.store.get_model_version(name, version)

    def get_latest_version(self, name: str, stage: ModelStage | str | None = None) -> ModelVersion:
        """The newest version of a registered model (in ``stage``, if given)."""
        if stage is None:
            return self.store.get_latest_version(name)
        stage = ModelStage.parse(stage)
        quoted = name.replace("'", "''")
        found = self.store.search_model_versions(
            f"name = '{quoted}' and current_stage = '{stage.value}'", max_results=1
        )
        if not found:
            self.store.get_registered_model(name)  # NotFound for an unknown name
            raise NotFound(f"registered model {name!r} has no version in stage {stage.value}")
        return found[0]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Model versions, e.g. ``filter_string="name = 'iris'"``."""
        return self.store.search_model_versions(filter_string, max_results, page_token)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Change a version's description."""
        return self.store.update_model_version(name, version, description)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: ModelStage | str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version to Staging, Production, Archived or None."""
        return self.store.transition_model_version_stage(
            name, version, ModelStage.parse(stage), archive_existing_versions
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete one version of a registered model."""
        self.store.delete_model_version(name, version)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a model version's tag."""
        self.store.set_model_version_tag(name, version, key, str(value))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` (e.g. champion) at ``version``; an existing alias moves."""
        self.store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self.store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        return self.store.get_model_version_by_alias(name, alias)
