"""Datasets a run used, as ``log_input`` records them (MLflow's ``mlflow.data`` names).

A :class:`Dataset` is a description, not a copy: a name, a sha256 digest of the content
(the same digest autolog records for training data), where it came from, its schema
(column names and dtypes) and its profile (rows, columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunetrack.errors import InvalidInput


@dataclass(frozen=True)
class Dataset:
    """What :func:`~tunetrack.log_input` records about a dataset."""

    name: str
    digest: str  #: sha256 (hex) of the shape and the content; stable across processes
    source: str  #: where the data came from (a path, a URL, or its Python type)
    schema: list[dict[str, Any]] = field(default_factory=list)  #: [{"name", "type"}, ...]
    profile: dict[str, int] = field(default_factory=dict)  #: {"rows", "columns"}
    targets: str | None = None  #: the target column's name, if the data has one

    def to_dict(self) -> dict[str, Any]:
        """The dataset as plain JSON-ready values."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source,
            "schema": self.schema,
            "profile": self.profile,
            "targets": self.targets,
        }


def from_pandas(
    df: Any, source: str | None = None, targets: str | None = None, name: str | None = None
) -> Dataset:
    """Describe a pandas DataFrame; ``targets`` names its target column, if any."""
    from tunetrack.autologging._common import dataset_info

    if not hasattr(df, "columns") or not hasattr(df, "dtypes"):
        raise InvalidInput(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    if targets is not None and targets not in df.columns:
        raise InvalidInput(f"targets column {targets!r} is not in the DataFrame")
    info = dataset_info(df, source=source)
    schema = [{"name": c, "type": t} for c, t in zip(info["columns"], info["dtypes"], strict=True)]
    return Dataset(
        name=name or "dataset",
        digest=info["digest"],
        source=info["source"],
        schema=schema,
        profile={"rows": int(df.shape[0]), "columns": int(df.shape[1])},
        targets=targets,
    )


def from_numpy(
    features: Any, source: str | None = None, targets: Any = None, name: str | None = None
) -> Dataset:
    """Describe a numpy array of features (and optionally one of targets)."""
    import numpy as np

    from tunetrack.autologging._common import dataset_info

    features = np.asarray(features)
    if features.ndim == 0:
        raise InvalidInput("from_numpy takes an array of rows, got a scalar")
    y = None if targets is None else np.asarray(targets)
    info = dataset_info(features, y, source=source)
    schema = [{"name": "features", "type": str(features.dtype), "shape": list(features.shape)}]
    if y is not None:
        schema.append({"name": "targets", "type": str(y.dtype), "shape": list(y.shape)})
    return Dataset(
        name=name or "dataset",
        digest=info["digest"],
        source=info["source"],
        schema=schema,
        profile={"rows": len(features), "columns": int(np.prod(features.shape[1:]))},
        targets=None if y is None else "targets",
    )
