"""What a run logs, through MLflow's endpoints: ``runs/log-metric``, ``runs/log-parameter``,
``runs/set-tag``, ``runs/delete-tag``, ``runs/log-batch`` and ``metrics/get-history``.

As on MLflow's server, a batch holds at most 1,000 metrics, 100 params and 100 tags (1,000
in all), a param logged again with another value is INVALID_PARAMETER_VALUE, and setting the
``mlflow.runName`` tag renames the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query

from tunetrack import _validation as v
from tunetrack.entities import Metric, Param, RunTag
from tunetrack.errors import Conflict, InvalidInput
from tunetrack.server.deps import StoreDep
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.shapes import (
    INT64_MAX,
    RUN_NAME_TAG,
    Empty,
    KeyValue,
    MetricIn,
    MetricOut,
    RunRef,
    Shape,
    metric_shape,
)
from tunetrack.store.base import Store

router = APIRouter(route_class=MlflowRoute)

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


class LogMetric(RunRef, MetricIn):
    pass


class LogParam(RunRef, KeyValue):
    pass


class SetTag(RunRef, KeyValue):
    pass


class DeleteTag(RunRef):
    key: str


class LogBatch(RunRef):
    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class MetricHistory(Shape):
    metrics: list[MetricOut]
    next_page_token: str | None = None


def _log(
    store: Store,
    run_id: str,
    metrics: Sequence[MetricIn] = (),
    params: Sequence[KeyValue] = (),
    tags: Sequence[KeyValue] = (),
) -> None:
    """Write one batch of a run in one transaction, with MLflow's meaning for a changed param
    and for the ``mlflow.runName`` tag (checked before anything is written)."""
    names = [t.value for t in tags if t.key == RUN_NAME_TAG and t.value]
    for name in names:
        v.validate_name(name, "run", v.MAX_RUN_NAME_LENGTH)
    try:
        store.log_batch(
            run_id,
            [Metric(m.key, m.value, m.timestamp, m.step) for m in metrics],
            [Param(p.key, p.value) for p in params],
            [RunTag(t.key, t.value) for t in tags],
        )
    except Conflict as exc:  # MLflow: "changing param values is not allowed"
        raise InvalidInput(exc.message) from None
    if names:
        store.update_run_info(run_id, run_name=names[-1])


def _check_limits(batch: LogBatch) -> None:
    counts = (
        ("metrics", len(batch.metrics), MAX_METRICS_PER_BATCH),
        ("params", len(batch.params), MAX_PARAMS_PER_BATCH),
        ("tags", len(batch.tags), MAX_TAGS_PER_BATCH),
        (
            "metrics, params and tags together",
            len(batch.metrics) + len(batch.params) + len(batch.tags),
            MAX_ENTITIES_PER_BATCH,
        ),
    )
    for what, count, limit in counts:
        if count > limit:
            raise InvalidInput(
                f"a log-batch request holds at most {limit} {what}, this one {count}: "
                "split it into several requests"
            )


@router.post("/runs/log-metric")
def log_metric(body: LogMetric, store: StoreDep) -> Empty:
    """Log one metric point."""
    _log(store, body.id, metrics=[body])
    return Empty()


@router.post("/runs/log-parameter")
def log_param(body: LogParam, store: StoreDep) -> Empty:
    """Log one param (the same value again is fine, another value is refused)."""
    _log(store, body.id, params=[body])
    return Empty()


@router.post("/runs/set-tag")
def set_tag(body: SetTag, store: StoreDep) -> Empty:
    """Set or overwrite one run tag."""
    _log(store, body.id, tags=[body])
    return Empty()


@router.post("/runs/delete-tag")
def delete_tag(body: DeleteTag, store: StoreDep) -> Empty:
    """Remove one tag from a run."""
    store.delete_tag(body.id, body.key)
    return Empty()


@router.post("/runs/log-batch")
def log_batch(body: LogBatch, store: StoreDep) -> Empty:
    """Write metrics, params and tags of one run in one transaction."""
    _check_limits(body)
    _log(store, body.id, body.metrics, body.params, body.tags)
    return Empty()


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    if not (page_token.isascii() and page_token.isdigit()):
        raise InvalidInput(f"invalid page_token {page_token!r}")
    return int(page_token)


@router.get("/metrics/get-history")
def get_metric_history(
    store: StoreDep,
    metric_key: str,
    run_id: str | None = None,
    run_uuid: str | None = None,
    max_results: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    page_token: str | None = None,
) -> MetricHistory:
    """Every point of one metric of one run, ordered by step then timestamp; with
    ``max_results``, one page of them at a time."""
    points = store.get_metric_history(RunRef(run_id=run_id, run_uuid=run_uuid).id, metric_key)
    start = _offset(page_token)
    end = len(points) if max_results is None else start + max_results
    return MetricHistory(
        metrics=[metric_shape(m) for m in points[start:end]],
        next_page_token=str(end) if end < len(points) else None,
    )
