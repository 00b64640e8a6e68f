"""XGBoost integration: ``tunetrack.xgboost.autolog()`` and models in XGBoost's format."""

from tunetrack.autologging.xgboost import autolog
from tunetrack.models import xgboost_load_model as load_model
from tunetrack.models import xgboost_log_model as log_model

__all__ = ["autolog", "load_model", "log_model"]
