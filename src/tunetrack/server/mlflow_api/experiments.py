"""MLflow's ``experiments/…`` endpoints: create, get, get-by-name, search (POST and GET),
delete, restore, update (rename) and set-experiment-tag."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from tunetrack.entities import ViewType
from tunetrack.errors import NotFound
from tunetrack.server.auth.policy import creator_manages, search_readable_experiments
from tunetrack.server.deps import ArtifactsDep, StoreDep, UserDep
from tunetrack.server.locations import checked_location
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.shapes import (
    Empty,
    ExperimentShape,
    Int64,
    Int64Query,
    KeyValue,
    Shape,
    experiment_shape,
    from_mlflow_uri,
    tags_of,
)

router = APIRouter(prefix="/experiments", route_class=MlflowRoute)

ViewTypeName = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]


class CreateExperiment(Shape):
    name: str
    artifact_location: str | None = None
    tags: list[KeyValue] = []


class ExperimentRef(Shape):
    experiment_id: str


class UpdateExperiment(ExperimentRef):
    new_name: str


class SetExperimentTag(ExperimentRef):
    key: str
    value: str = ""


class SearchExperiments(Shape):
    max_results: Int64 = 1000
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: ViewTypeName = "ACTIVE_ONLY"


class ExperimentIdResponse(Shape):
    experiment_id: str


class ExperimentResponse(Shape):
    experiment: ExperimentShape


class ExperimentsPage(Shape):
    experiments: list[ExperimentShape]
    next_page_token: str | None = None


@router.post("/create")
def create_experiment(
    body: CreateExperiment, store: StoreDep, artifacts: ArtifactsDep, request: Request
) -> ExperimentIdResponse:
    """A new experiment; without an artifact location its artifacts go behind the proxy
    (``mlflow-artifacts:/<experiment_id>``); one given must be in the server's store. Its
    creator may manage it."""
    location = None
    if body.artifact_location:
        location = from_mlflow_uri(body.artifact_location)
        location = checked_location(location, artifacts, "artifact_location")
    experiment_id = store.create_experiment(body.name, location, tags_of(body.tags))
    creator_manages(request, experiment_id)
    return ExperimentIdResponse(experiment_id=experiment_id)


@router.get("/get")
def get_experiment(experiment_id: str, store: StoreDep) -> ExperimentResponse:
    """One experiment, active or deleted."""
    return ExperimentResponse(experiment=experiment_shape(store.get_experiment(experiment_id)))


@router.get("/get-by-name")
def get_experiment_by_name(experiment_name: str, store: StoreDep) -> ExperimentResponse:
    """The experiment with this name (RESOURCE_DOES_NOT_EXIST when there is none)."""
    experiment = store.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise NotFound(f"no experiment named {experiment_name!r}")
    return ExperimentResponse(experiment=experiment_shape(experiment))


def _search(store: StoreDep, user: UserDep, query: SearchExperiments) -> ExperimentsPage:
    page = search_readable_experiments(
        store,
        user,
        ViewType[query.view_type],
        query.filter or None,
        query.max_results,
        query.order_by or None,
        query.page_token or None,
    )
    return ExperimentsPage(
        experiments=[experiment_shape(e) for e in page], next_page_token=page.token
    )


@router.post("/search")
def search_experiments(body: SearchExperiments, store: StoreDep, user: UserDep) -> ExperimentsPage:
    """Experiments matching a filter on ``name``, ``tags.*`` and times, one page at a time
    (of those the user may read)."""
    return _search(store, user, body)


@router.get("/search")
def search_experiments_by_query(
    store: StoreDep,
    user: UserDep,
    max_results: Int64Query = 1000,
    page_token: str | None = None,
    filter_string: Annotated[str | None, Query(alias="filter")] = None,
    order_by: Annotated[list[str] | None, Query()] = None,
    view_type: ViewTypeName = "ACTIVE_ONLY",
) -> ExperimentsPage:
    """The POST search, its fields as query parameters."""
    query = SearchExperiments(
        max_results=max_results,
        page_token=page_token,
        filter=filter_string,
        order_by=order_by or [],
        view_type=view_type,
    )
    return _search(store, user, query)


@router.post("/delete")
def delete_experiment(body: ExperimentRef, store: StoreDep) -> Empty:
    """Soft-delete an experiment and its runs."""
    store.delete_experiment(body.experiment_id)
    return Empty()


@router.post("/restore")
def restore_experiment(body: ExperimentRef, store: StoreDep) -> Empty:
    """Undo a delete."""
    store.restore_experiment(body.experiment_id)
    return Empty()


@router.post("/update")
def update_experiment(body: UpdateExperiment, store: StoreDep) -> Empty:
    """Rename an experiment."""
    store.rename_experiment(body.experiment_id, body.new_name)
    return Empty()


@router.post("/set-experiment-tag")
def set_experiment_tag(body: SetExperimentTag, store: StoreDep) -> Empty:
    """Set or overwrite one experiment tag."""
    store.set_experiment_tag(body.experiment_id, body.key, body.value)
    return Empty()
