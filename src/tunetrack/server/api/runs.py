"""``/api/runs/…`` and ``/api/metrics/…``: runs, their params, tags and metrics, and search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from tunetrack.errors import InvalidInput
from tunetrack.server.api import schemas as s
from tunetrack.server.deps import StoreDep

router = APIRouter(prefix="/api", tags=["runs"])
#: Request bodies a route parses itself: the app adds their schemas to the OpenAPI components.
SELF_PARSED_BODIES = (s.LogMetricRows,)


# The batched writer's route first: routes are matched in order, one by one.
async def metric_rows_body(request: Request) -> s.LogMetricRows:
    """The body of a metric batch, parsed and checked in one pass (pydantic's JSON parser
    straight into the model: the hot path skips building Python JSON objects first)."""
    try:
        return s.LogMetricRows.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@router.post(
    "/metrics/log-rows",
    response_model=s.Empty,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/LogMetricRows"}}
            },
        }
    },
)
async def log_metric_rows(
    body: Annotated[s.LogMetricRows, Depends(metric_rows_body)], store: StoreDep
) -> Response:
    """Write a bulk batch of metric points of any runs. With ``writer_id`` and ``seq`` the
    batch is written at most once: sending it again is answered without writing; with
    ``acked_below`` too, the server forgets the writer's batch ids below it."""
    # the one hop to a worker thread on this path (the answer needs no validation)
    await run_in_threadpool(
        store.log_metric_rows,
        body.rows,
        batch_id=_batch_id(body.writer_id, body.seq),
        acked_below=body.acked_below,
    )
    return Response(b"{}", media_type="application/json")


@router.post("/runs/create")
def create_run(body: s.CreateRun, store: StoreDep) -> s.RunResponse:
    """Create a run (nested under ``parent_run_id`` if given) with its first tags and params."""
    run = store.create_run(
        body.experiment_id,
        start_time=body.start_time,
        user_id=body.user_id,
        run_name=body.run_name,
        tags=body.tags,
        parent_run_id=body.parent_run_id,
        run_id=body.run_id,
        status=body.status,
        params=body.params,
    )
    return s.RunResponse(run=run)


@router.get("/runs/get")
def get_run(run_id: str, store: StoreDep) -> s.RunResponse:
    """A run with its latest metrics, params and tags."""
    return s.RunResponse(run=store.get_run(run_id))


@router.post("/runs/update")
def update_run(body: s.UpdateRun, store: StoreDep) -> s.RunInfoResponse:
    """Change a run's status, end time or name."""
    info = store.update_run_info(
        body.run_id, status=body.status, end_time=body.end_time, run_name=body.run_name
    )
    return s.RunInfoResponse(run_info=info)


@router.post("/runs/delete")
def delete_run(body: s.RunRef, store: StoreDep) -> s.Empty:
    """Soft-delete a run."""
    store.delete_run(body.run_id)
    return s.Empty()


@router.post("/runs/restore")
def restore_run(body: s.RunRef, store: StoreDep) -> s.Empty:
    """Undo a delete."""
    store.restore_run(body.run_id)
    return s.Empty()


@router.post("/runs/log-batch")
def log_batch(body: s.LogBatch, store: StoreDep) -> s.Empty:
    """Write metrics, params and tags of one run in one transaction; with ``writer_id`` and
    ``seq`` at most once (sending it again is answered without writing)."""
    metrics = [metric.entity() for metric in body.metrics]
    batch_id = _batch_id(body.writer_id, body.seq)
    store.log_batch(body.run_id, metrics, body.params, body.tags, batch_id=batch_id)
    return s.Empty()


def _batch_id(writer_id: str | None, seq: int | None) -> tuple[str, int] | None:
    if (writer_id is None) != (seq is None):
        raise InvalidInput("writer_id and seq go together: send both or neither")
    return None if writer_id is None or seq is None else (writer_id, seq)


@router.post("/runs/delete-tag")
def delete_tag(body: s.DeleteTag, store: StoreDep) -> s.Empty:
    """Remove one tag from a run."""
    store.delete_tag(body.run_id, body.key)
    return s.Empty()


@router.post("/runs/search")
def search_runs(body: s.SearchRuns, store: StoreDep) -> s.RunsPage:
    """Runs of some experiments matching the filter language, sorted, one page at a time."""
    page = store.search_runs(
        body.experiment_ids,
        body.filter_string,
        body.view_type,
        body.max_results,
        body.order_by,
        body.page_token,
    )
    return s.RunsPage(runs=page, next_page_token=page.token)


@router.get("/metrics/get-history")
def get_metric_history(run_id: str, key: str, store: StoreDep) -> s.MetricHistory:
    """Every point of one metric of one run, ordered by step then timestamp."""
    return s.MetricHistory(metrics=store.get_metric_history(run_id, key))
