"""Per-flavor ``log_model`` / ``save_model`` / ``load_model`` for the ``tunetrack.sklearn``
and ``tunetrack.xgboost`` facades.

Logging forces the flavor (an XGBClassifier logged through the sklearn functions is
pickled with joblib); loading refuses a model of another flavor with InvalidInput.
"""

from __future__ import annotations

import os
from typing import Any

from tunetrack.models.api import ModelInfo, load_model_and_manifest, log_model, save_model
from tunetrack.models.manifest import Manifest
from tunetrack.models.signature import ModelSignature


def sklearn_log_model(
    model: Any,
    name: str = "model",
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log a scikit-learn estimator or Pipeline with the sklearn flavor (joblib)."""
    return log_model(
        model,
        name,
        signature=signature,
        input_example=input_example,
        registered_model_name=registered_model_name,
        run_id=run_id,
        flavor="sklearn",
    )


def sklearn_save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
) -> Manifest:
    """Save a scikit-learn model into a local directory (joblib)."""
    return save_model(
        model, path, signature=signature, input_example=input_example, flavor="sklearn"
    )


def sklearn_load_model(model_uri: str | os.PathLike[str], *, dst_path: str | None = None) -> Any:
    """The scikit-learn model at a URI; InvalidInput if it has another flavor."""
    return load_model_and_manifest(model_uri, dst_path=dst_path, flavor="sklearn")[0]


def xgboost_log_model(
    model: Any,
    name: str = "model",
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Log an XGBoost Booster or sklearn wrapper in XGBoost's own format."""
    return log_model(
        model,
        name,
        signature=signature,
        input_example=input_example,
        registered_model_name=registered_model_name,
        run_id=run_id,
        flavor="xgboost",
    )


def xgboost_save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
) -> Manifest:
    """Save an XGBoost model into a local directory (native format)."""
    return save_model(
        model, path, signature=signature, input_example=input_example, flavor="xgboost"
    )


def xgboost_load_model(model_uri: str | os.PathLike[str], *, dst_path: str | None = None) -> Any:
    """The XGBoost Booster or wrapper at a URI; InvalidInput if it has another flavor."""
    return load_model_and_manifest(model_uri, dst_path=dst_path, flavor="xgboost")[0]
