"""MLflow's JSON shapes (its protobuf messages as JSON) and tunetrack's records in them.

Field names follow mlflow's ``service.proto`` and ``model_registry.proto``: ids are strings,
a run's id travels as both ``run_id`` and ``run_uuid``, params, tags and metrics are lists of
objects, int64 fields are JSON numbers, model versions are strings, unset fields are left out
and floats JSON cannot spell are ``"NaN"``/``"Infinity"``/``"-Infinity"``. Requests may carry
fields this server does not know (newer clients add some): they are ignored.

Artifacts kept behind the server's proxy are ``tunetrack-artifacts:/<path>`` in the store and
``mlflow-artifacts:/<path>`` to MLflow clients, which reach them through
``/api/2.0/mlflow-artifacts/artifacts/<path>``: the same files under the same artifact root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from tunetrack.entities import (
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInfo,
    RunStatus,
)
from tunetrack.errors import InvalidInput
from tunetrack.store.artifacts_http import PROXY_ROOT

MLFLOW_PROXY_ROOT = "mlflow-artifacts:"
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: MLflow's int64 fields (times, steps, versions, page sizes): others are refused with 400.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Int64Query = Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX)]


class Shape(BaseModel):
    """Base of every MLflow request and response body."""

    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="strings")


class Empty(Shape):
    """The answer of a write that returns nothing: ``{}``."""


class RunRef(Shape):
    """A request naming a run: MLflow clients send its id as ``run_id`` and ``run_uuid``."""

    run_id: str | None = None
    run_uuid: str | None = None

    @property
    def id(self) -> str:
        """The run's id (InvalidInput when the request names none)."""
        run_id = self.run_id or self.run_uuid
        if not run_id:
            raise InvalidInput("the request needs a run_id")
        return run_id


class KeyValue(Shape):
    """A param or a tag (of an experiment, run, registered model or version)."""

    key: str
    value: str = ""


class MetricIn(Shape):
    """One metric point as a client logs it."""

    key: str
    value: float
    timestamp: Int64
    step: Int64 = 0


class MetricOut(Shape):
    """A metric point; a run's latest metrics carry only key and value."""

    key: str
    value: float
    timestamp: int | None = None
    step: int | None = None


class ExperimentShape(Shape):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    last_update_time: int
    creation_time: int
    tags: list[KeyValue]


class RunInfoShape(Shape):
    run_id: str
    run_uuid: str
    run_name: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None = None
    artifact_uri: str
    lifecycle_stage: str


class RunDataShape(Shape):
    metrics: list[MetricOut]
    params: list[KeyValue]
    tags: list[KeyValue]


class RunShape(Shape):
    info: RunInfoShape
    data: RunDataShape


class AliasShape(Shape):
    alias: str
    version: str


class ModelVersionShape(Shape):
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    description: str
    source: str
    run_id: str | None = None
    status: str
    tags: list[KeyValue]
    aliases: list[str]


class RegisteredModelShape(Shape):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    latest_versions: list[ModelVersionShape]
    tags: list[KeyValue]
    aliases: list[AliasShape]


# -- artifact locations ------------------------------------------------------------------
def to_mlflow_uri(uri: str) -> str:
    """A store's artifact location as MLflow clients see it (proxied ones as mlflow-artifacts:)."""
    if not uri.startswith(PROXY_ROOT):
        return uri
    return f"{MLFLOW_PROXY_ROOT}/{uri[len(PROXY_ROOT) :].strip('/')}"


def from_mlflow_uri(uri: str) -> str:
    """An artifact location an MLflow client sent, as the store keeps it."""
    if not uri.startswith(MLFLOW_PROXY_ROOT):
        return uri
    rest = uri[len(MLFLOW_PROXY_ROOT) :]
    if rest.startswith("//"):
        raise InvalidInput(
            f"{uri!r} names another server: use {MLFLOW_PROXY_ROOT}/<path> for this server's "
            "artifacts"
        )
    return f"{PROXY_ROOT}/{rest.strip('/')}"


# -- tunetrack records as MLflow shapes -----------------------------------------------------
def tags_of(request_tags: list[KeyValue] | None) -> dict[str, str]:
    """A request's tag list as the store takes tags (a repeated key keeps its last value)."""
    return {tag.key: tag.value for tag in request_tags or ()}


def _pairs(mapping: Mapping[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=v) for k, v in mapping.items()]


def experiment_shape(e: Experiment) -> ExperimentShape:
    return ExperimentShape(
        experiment_id=e.experiment_id,
        name=e.name,
        artifact_location=to_mlflow_uri(e.artifact_location),
        lifecycle_stage=e.lifecycle_stage.value,
        last_update_time=e.last_update_time,
        creation_time=e.creation_time,
        tags=_pairs(e.tags),
    )


def run_info_shape(info: RunInfo) -> RunInfoShape:
    # MLflow has no PRUNED: a trial stopped early is, to it, a run killed before its end.
    status = RunStatus.KILLED if info.status is RunStatus.PRUNED else info.status
    return RunInfoShape(
        run_id=info.run_id,
        run_uuid=info.run_id,
        run_name=info.run_name,
        experiment_id=info.experiment_id,
        user_id=info.user_id,
        status=status.value,
        start_time=info.start_time,
        end_time=info.end_time,
        artifact_uri=to_mlflow_uri(info.artifact_uri),
        lifecycle_stage=info.lifecycle_stage.value,
    )


def run_shape(run: Run) -> RunShape:
    """A run; its name and parent also appear as MLflow's system tags, which MLflow clients
    read them from."""
    tags = dict(run.data.tags)
    tags[RUN_NAME_TAG] = run.info.run_name
    if run.info.parent_run_id:
        tags[PARENT_RUN_TAG] = run.info.parent_run_id
    return RunShape(
        info=run_info_shape(run.info),
        data=RunDataShape(
            metrics=[MetricOut(key=k, value=val) for k, val in run.data.metrics.items()],
            params=_pairs(run.data.params),
            tags=_pairs(tags),
        ),
    )


def metric_shape(m: Metric) -> MetricOut:
    return MetricOut(key=m.key, value=m.value, timestamp=m.timestamp, step=m.step)


def model_version_shape(v: ModelVersion) -> ModelVersionShape:
    return ModelVersionShape(
        name=v.name,
        version=str(v.version),
        creation_timestamp=v.creation_time,
        last_updated_timestamp=v.last_updated_time,
        current_stage=v.current_stage.value,
        description=v.description,
        source=to_mlflow_uri(v.source),
        run_id=v.run_id,
        status=v.status,
        tags=_pairs(v.tags),
        aliases=list(v.aliases),
    )


def registered_model_shape(
    m: RegisteredModel, latest: ModelVersion | None = None
) -> RegisteredModelShape:
    """A registered model; ``latest`` is its highest version, if the caller fetched it."""
    return RegisteredModelShape(
        name=m.name,
        creation_timestamp=m.creation_time,
        last_updated_timestamp=m.last_updated_time,
        description=m.description,
        latest_versions=[model_version_shape(latest)] if latest is not None else [],
        tags=_pairs(m.tags),
        aliases=[AliasShape(alias=a, version=str(n)) for a, n in m.aliases.items()],
    )
