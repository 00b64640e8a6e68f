"""MLflow's ``runs/…`` lifecycle endpoints: create, get, update, delete, restore and search.

MLflow nests a run by its ``mlflow.parentRunId`` tag and names it by ``mlflow.runName``:
a run created with those tags gets tunetrack's real parent and name.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from tunetrack._clock import now_ms
from tunetrack.entities import RunStatus, ViewType
from tunetrack.server.deps import StoreDep
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.experiments import ViewTypeName
from tunetrack.server.mlflow_api.shapes import (
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    Empty,
    Int64,
    KeyValue,
    RunInfoShape,
    RunRef,
    RunShape,
    Shape,
    run_info_shape,
    run_shape,
    tags_of,
)

router = APIRouter(prefix="/runs", route_class=MlflowRoute)

RunStatusName = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]


class CreateRun(Shape):
    experiment_id: str
    user_id: str = ""
    run_name: str | None = None
    start_time: Int64 | None = None
    tags: list[KeyValue] = []


class UpdateRun(RunRef):
    status: RunStatusName | None = None
    end_time: Int64 | None = None
    run_name: str | None = None


class SearchRuns(Shape):
    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: ViewTypeName = "ACTIVE_ONLY"
    max_results: Int64 = 1000
    order_by: list[str] = []
    page_token: str | None = None


class RunResponse(Shape):
    run: RunShape


class RunInfoResponse(Shape):
    run_info: RunInfoShape


class RunsPage(Shape):
    runs: list[RunShape]
    next_page_token: str | None = None


@router.post("/create")
def create_run(body: CreateRun, store: StoreDep) -> RunResponse:
    """A new RUNNING run, nested under its ``mlflow.parentRunId`` tag's run if it has one."""
    tags = tags_of(body.tags)
    run = store.create_run(
        body.experiment_id,
        start_time=body.start_time if body.start_time is not None else now_ms(),
        user_id=body.user_id,
        run_name=body.run_name or tags.get(RUN_NAME_TAG) or None,
        tags=tags,
        parent_run_id=tags.get(PARENT_RUN_TAG) or None,
    )
    return RunResponse(run=run_shape(run))


@router.get("/get")
def get_run(store: StoreDep, run_id: str | None = None, run_uuid: str | None = None) -> RunResponse:
    """A run with its latest metrics, params and tags."""
    return RunResponse(run=run_shape(store.get_run(RunRef(run_id=run_id, run_uuid=run_uuid).id)))


@router.post("/update")
def update_run(body: UpdateRun, store: StoreDep) -> RunInfoResponse:
    """Change a run's status, end time or name."""
    info = store.update_run_info(
        body.id,
        status=None if body.status is None else RunStatus(body.status),
        end_time=body.end_time,
        run_name=body.run_name or None,
    )
    return RunInfoResponse(run_info=run_info_shape(info))


@router.post("/delete")
def delete_run(body: RunRef, store: StoreDep) -> Empty:
    """Soft-delete a run."""
    store.delete_run(body.id)
    return Empty()


@router.post("/restore")
def restore_run(body: RunRef, store: StoreDep) -> Empty:
    """Undo a delete."""
    store.restore_run(body.id)
    return Empty()


@router.post("/search")
def search_runs(body: SearchRuns, store: StoreDep) -> RunsPage:
    """Runs of some experiments matching the filter language, sorted, one page at a time."""
    page = store.search_runs(
        body.experiment_ids,
        body.filter or None,
        ViewType[body.run_view_type],
        body.max_results,
        body.order_by or None,
        body.page_token or None,
    )
    return RunsPage(runs=[run_shape(run) for run in page], next_page_token=page.token)
