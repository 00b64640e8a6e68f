"""Runs table rows to and from :class:`~tunetrack.entities.RunInfo`."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Row

from tunetrack.entities import LifecycleStage, RunInfo, RunStatus


class RunRecord(NamedTuple):
    """A runs-table row as the driver returns it (the hot path reads no SQLAlchemy Row)."""

    run_id: str
    experiment_id: int
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    parent_run_id: str | None
    deleted_time: int | None


#: The runs table's columns (a test keeps them equal to the table's).
RUN_COLUMNS = RunRecord._fields


def run_values(info: RunInfo) -> dict[str, object]:
    """The runs-table column values of ``info`` (a new run: never deleted)."""
    return {
        "run_id": info.run_id,
        "experiment_id": int(info.experiment_id),
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage.value,
        "artifact_uri": info.artifact_uri,
        "parent_run_id": info.parent_run_id,
        "deleted_time": None,
    }


def run_info(row: Row[Any] | RunRecord) -> RunInfo:
    """The RunInfo of a runs-table row."""
    return RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.run_name,
        status=RunStatus(row.status),
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        artifact_uri=row.artifact_uri,
        parent_run_id=row.parent_run_id,
        user_id=row.user_id,
    )
