"""Models: flavors (sklearn, xgboost), a verified manifest, and MLflow-familiar
``log_model`` / ``save_model`` / ``load_model``.

Importing this package loads nothing else: each name loads its module on first use, and
each flavor imports its ML library when it saves or loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunetrack._lazy import lazy_attributes

_LAZY = {
    "ACCEPTED_FORMS": "tunetrack.models.uri",
    "ColumnSpec": "tunetrack.models.signature",
    "Flavor": "tunetrack.models.flavors",
    "Manifest": "tunetrack.models.manifest",
    "ModelInfo": "tunetrack.models.api",
    "ModelIntegrityError": "tunetrack.models.manifest",
    "ModelSignature": "tunetrack.models.signature",
    "ModelUri": "tunetrack.models.uri",
    "flavor_for": "tunetrack.models.flavors",
    "get_flavor": "tunetrack.models.flavors",
    "infer_signature": "tunetrack.models.signature",
    "load_model": "tunetrack.models.api",
    "load_model_and_manifest": "tunetrack.models.api",
    "log_model": "tunetrack.models.api",
    "parse_model_uri": "tunetrack.models.uri",
    "read_manifest": "tunetrack.models.api",
    "register_flavor": "tunetrack.models.flavors",
    "save_model": "tunetrack.models.api",
    "sklearn_load_model": "tunetrack.models._flavor_api",
    "sklearn_log_model": "tunetrack.models._flavor_api",
    "sklearn_save_model": "tunetrack.models._flavor_api",
    "xgboost_load_model": "tunetrack.models._flavor_api",
    "xgboost_log_model": "tunetrack.models._flavor_api",
    "xgboost_save_model": "tunetrack.models._flavor_api",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from tunetrack.models._flavor_api import (  # noqa: F401
        sklearn_load_model,
        sklearn_log_model,
        sklearn_save_model,
        xgboost_load_model,
        xgboost_log_model,
        xgboost_save_model,
    )
    from tunetrack.models.api import (  # noqa: F401
        ModelInfo,
        load_model,
        load_model_and_manifest,
        log_model,
        read_manifest,
        save_model,
    )
    from tunetrack.models.flavors import Flavor, flavor_for, get_flavor, register_flavor  # noqa: F401
    from tunetrack.models.manifest import Manifest, ModelIntegrityError  # noqa: F401
    from tunetrack.models.signature import ColumnSpec, ModelSignature, infer_signature  # noqa: F401
    from tunetrack.models.uri import ACCEPTED_FORMS, ModelUri, parse_model_uri  # noqa: F401


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
