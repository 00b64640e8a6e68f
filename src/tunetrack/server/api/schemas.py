"""The JSON shapes of the tunetrack REST API, shared by the server and RestStore.

Records travel as the store's own entity dataclasses (:mod:`tunetrack.entities`), always
wrapped in an object (``{"run": {...}}``). Floats that JSON cannot spell are sent as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; requests may use those strings or
the bare tokens ``NaN``/``Infinity``. Errors are ``{"error_code": ..., "message": ...}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunetrack.entities import (
    Experiment,
    FileInfo,
    GcReport,
    Metric,
    ModelStage,
    ModelVersion,
    Param,
    RegisteredModel,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

#: The integers both databases store (BIGINT): a step, a time, a version number.
INT64 = {"ge": -(2**63), "le": 2**63 - 1}
Int64 = Annotated[int, Field(**INT64)]

#: One metric point of a bulk batch: (run_id, key, step, timestamp, value).
MetricRowIn = tuple[str, str, Int64, Int64, float]


class Wire(BaseModel):
    """Base of every request and response body."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class ErrorBody(Wire):
    """Every error response."""

    error_code: str = Field(examples=["RESOURCE_NOT_FOUND"])
    message: str


class Empty(Wire):
    """The answer of a write that returns nothing."""


class Page(Wire):
    """Search paging: pass ``next_page_token`` back to get the following page."""

    next_page_token: str | None = None


class SearchRequest(Wire):
    """The paging part of every search."""

    filter_string: str | None = None
    max_results: int = 1000
    page_token: str | None = None


# -- experiments ---------------------------------------------------------------------------
class CreateExperiment(Wire):
    name: str
    artifact_location: str | None = None
    tags: dict[str, str] | None = None


class ExperimentRef(Wire):
    experiment_id: str


class RenameExperiment(ExperimentRef):
    new_name: str


class SetExperimentTag(ExperimentRef):
    key: str
    value: str


class SearchExperiments(SearchRequest):
    view_type: ViewType = ViewType.ACTIVE_ONLY
    order_by: list[str] | None = None


class ExperimentIdResponse(Wire):
    experiment_id: str


class ExperimentResponse(Wire):
    experiment: Experiment


class MaybeExperimentResponse(Wire):
    """``experiment`` is null when no experiment has the name."""

    experiment: Experiment | None


class ExperimentsPage(Page):
    experiments: list[Experiment]


# -- runs ----------------------------------------------------------------------------------
class CreateRun(Wire):
    experiment_id: str
    start_time: Int64
    user_id: str = ""
    run_name: str | None = None
    tags: dict[str, str] | None = None
    parent_run_id: str | None = None
    run_id: str | None = None
    status: RunStatus = RunStatus.RUNNING
    params: dict[str, str] | None = None


class RunRef(Wire):
    run_id: str


class UpdateRun(RunRef):
    status: RunStatus | None = None
    end_time: Int64 | None = None
    run_name: str | None = None


class MetricIn(Wire):
    """One metric point of a run."""

    key: str
    value: float
    timestamp: Int64
    step: Int64 = 0

    def entity(self) -> Metric:
        """The store's record of this point."""
        return Metric(self.key, self.value, self.timestamp, self.step)


class LogBatch(RunRef):
    """Metrics, params and tags of one run. With ``writer_id`` and ``seq`` (as in
    :class:`LogMetricRows`) sending the same batch again writes nothing the second time."""

    metrics: list[MetricIn] = []
    params: list[Param] = []
    tags: list[RunTag] = []
    writer_id: str | None = None
    seq: Int64 | None = None


class DeleteTag(RunRef):
    key: str


class LogMetricRows(Wire):
    """A bulk batch of the batched writer. With ``writer_id`` and ``seq``, sending the same
    batch again (a retry after a lost response) writes nothing the second time.
    ``acked_below`` (at most ``seq``) promises that the writer sends no lower ``seq`` again,
    so the server may forget those batch ids."""

    rows: list[MetricRowIn]
    writer_id: str | None = None
    seq: Int64 | None = None
    acked_below: Int64 | None = None


class SearchRuns(SearchRequest):
    experiment_ids: list[str]
    view_type: ViewType = ViewType.ACTIVE_ONLY
    order_by: list[str] | None = None


class RunResponse(Wire):
    run: Run


class RunInfoResponse(Wire):
    run_info: RunInfo


class RunsPage(Page):
    runs: list[Run]


class MetricHistory(Wire):
    metrics: list[Metric]


# -- registry ------------------------------------------------------------------------------
class ModelRef(Wire):
    name: str


class CreateRegisteredModel(ModelRef):
    description: str = ""
    tags: dict[str, str] | None = None


class UpdateRegisteredModel(ModelRef):
    description: str


class SetRegisteredModelTag(ModelRef):
    key: str
    value: str


class SetAlias(ModelRef):
    alias: str
    version: Int64


class DeleteAlias(ModelRef):
    alias: str


class VersionRef(ModelRef):
    version: Int64


class CreateModelVersion(ModelRef):
    source: str
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] | None = None
    manifest_sha256: str | None = None
    request_id: str | None = Field(
        None, description="sending the same id again returns the version it registered"
    )


class UpdateModelVersion(VersionRef):
    description: str


class TransitionStage(VersionRef):
    stage: ModelStage
    archive_existing_versions: bool = False


class SetModelVersionTag(VersionRef):
    key: str
    value: str


class RegisteredModelResponse(Wire):
    registered_model: RegisteredModel


class RegisteredModelsPage(Page):
    registered_models: list[RegisteredModel]


class ModelVersionResponse(Wire):
    model_version: ModelVersion


class ModelVersionsPage(Page):
    model_versions: list[ModelVersion]


# -- artifacts -----------------------------------------------------------------------------
class ArtifactList(Wire):
    """Direct children of a directory, paths relative to the server's artifact root."""

    files: list[FileInfo]


class ArtifactWritten(Wire):
    path: str
    size: int


# -- garbage collection --------------------------------------------------------------------
class Gc(Wire):
    """What to remove for good: what was deleted at least ``older_than`` milliseconds ago
    (any time when null), in ``experiment_ids`` (every experiment when null)."""

    older_than: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None
    experiment_ids: list[str] | None = None
    dry_run: bool = False


class GcResponse(Wire):
    """What was removed (with ``dry_run``: what would be)."""

    report: GcReport


# -- served sweep ledgers ---------------------------------------------------------------------
#: The optuna storage operations a served ledger answers (optuna's ``BaseStorage`` names).
LedgerMethod = Literal[
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "create_new_trial",
    "set_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "get_all_trials",
]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]  # optuna's RDB columns
TrialNumber = Annotated[int, Field(ge=0, le=2**31 - 1)]
TrialStateValue = Annotated[int, Field(ge=0, le=4)]  # optuna.trial.TrialState


class LedgerCall(Wire):
    """One optuna storage operation on the study of the sweep whose parent run is
    ``run_id`` (its only study, ``sweep-<run_id>``: trials are named by ``number``). Each
    method reads the fields its optuna namesake takes; the others stay null."""

    run_id: str
    method: LedgerMethod
    study_name: str | None = None
    directions: list[Annotated[int, Field(ge=1, le=2)]] | None = None  # StudyDirection
    number: TrialNumber | None = None
    key: str | None = None
    value: Any = None  # an attribute's value (JSON)
    param_name: str | None = None
    param_value: float | None = None  # optuna's internal representation
    distribution: str | None = None  # optuna's distribution JSON
    state: TrialStateValue | None = None
    values: list[float] | None = None
    step: Int32 | None = None
    intermediate_value: float | None = None
    template: dict[str, Any] | None = None  # a trial as tunetrack.sweep.ledger_wire encodes it
    states: list[TrialStateValue] | None = None


class LedgerAnswer(Wire):
    """What the operation returned (null for a write)."""

    result: Any = None
