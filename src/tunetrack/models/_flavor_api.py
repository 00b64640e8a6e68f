"""Per-flavor ``log_model`` / ``save_model`` / ``load_model`` for the ``tunetrack.sklearn``
and ``tunetrack.xgboost`` facades.

Logging forces the flavor (an XGBClassifier logged through the sklearn functions is
pickled with joblib); loading refuses a model of another flavor with InvalidInput.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from tunetrack.models.api import load_model_and_manifest, log_model, save_model


def _load(model_uri: str | os.PathLike[str], *, dst_path: str | None = None, flavor: str) -> Any:
    return load_model_and_manifest(model_uri, dst_path=dst_path, flavor=flavor)[0]


def _bind(function: Callable[..., Any], flavor: str, doc: str) -> Callable[..., Any]:
    bound = functools.partial(function, flavor=flavor)
    bound.__doc__ = doc
    return bound


sklearn_log_model = _bind(
    log_model, "sklearn", "Log a scikit-learn estimator or Pipeline with the sklearn flavor."
)
sklearn_save_model = _bind(
    save_model, "sklearn", "Save a scikit-learn model into a local directory (joblib)."
)
sklearn_load_model = _bind(
    _load, "sklearn", "The scikit-learn model at a URI; InvalidInput if it has another flavor."
)
xgboost_log_model = _bind(
    log_model, "xgboost", "Log an XGBoost Booster or sklearn wrapper in XGBoost's own format."
)
xgboost_save_model = _bind(
    save_model, "xgboost", "Save an XGBoost model into a local directory (native format)."
)
xgboost_load_model = _bind(
    _load, "xgboost", "The XGBoost Booster or wrapper at a URI; InvalidInput if another flavor."
)
