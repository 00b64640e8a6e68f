"""Models: flavors (sklearn, xgboost), a verified manifest, and MLflow-familiar
``log_model`` / ``save_model`` / ``load_model``.

Importing this package loads no ML library; each flavor imports its library when it
saves or loads.
"""

from tunetrack.models._flavor_api import (
    sklearn_load_model,
    sklearn_log_model,
    sklearn_save_model,
    xgboost_load_model,
    xgboost_log_model,
    xgboost_save_model,
)
from tunetrack.models.api import (
    ModelInfo,
    load_model,
    load_model_and_manifest,
    log_model,
    read_manifest,
    save_model,
)
from tunetrack.models.flavors import Flavor, flavor_for, get_flavor, register_flavor
from tunetrack.models.manifest import Manifest, ModelIntegrityError
from tunetrack.models.signature import ColumnSpec, ModelSignature, infer_signature
from tunetrack.models.uri import ACCEPTED_FORMS, ModelUri, parse_model_uri

__all__ = [
    "ACCEPTED_FORMS",
    "ColumnSpec",
    "Flavor",
    "Manifest",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelSignature",
    "ModelUri",
    "flavor_for",
    "get_flavor",
    "infer_signature",
    "load_model",
    "load_model_and_manifest",
    "log_model",
    "parse_model_uri",
    "read_manifest",
    "register_flavor",
    "save_model",
    "sklearn_load_model",
    "sklearn_log_model",
    "sklearn_save_model",
    "xgboost_load_model",
    "xgboost_log_model",
    "xgboost_save_model",
]
