"""Runs as a pandas DataFrame, MLflow-style (``params.x``, ``metrics.y``, ``tags.z``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunetrack.entities import Run

if TYPE_CHECKING:
    import pandas as pd


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: info columns, then metrics.*, params.*, tags.* (sorted)."""
    import pandas as pd

    rows = []
    for run in runs:
        info = run.info
        row: dict[str, object] = {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "status": info.status.value,
            "artifact_uri": info.artifact_uri,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "parent_run_id": info.parent_run_id,
        }
        row.update({f"metrics.{k}": val for k, val in run.data.metrics.items()})
        row.update({f"params.{k}": val for k, val in run.data.params.items()})
        row.update({f"tags.{k}": val for k, val in run.data.tags.items()})
        rows.append(row)
    base = [
        "run_id", "experiment_id", "run_name", "status", "artifact_uri",
        "start_time", "end_time", "parent_run_id",
    ]  # fmt: skip
    extra = sorted(
        {c for row in rows for c in row} - set(base),
        key=lambda c: (("metrics.", "params.", "tags.").index(c[: c.index(".") + 1]), c),
    )
    frame = pd.DataFrame(rows, columns=base + extra)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame
