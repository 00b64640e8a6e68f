"""scikit-learn integration: ``tunetrack.sklearn.autolog()``, ``eval_metrics``, models.

``log_model``/``load_model`` here always use the sklearn flavor (joblib files).
"""

from tunetrack.autologging.sklearn import autolog, eval_metrics
from tunetrack.models import sklearn_load_model as load_model
from tunetrack.models import sklearn_log_model as log_model

__all__ = ["autolog", "eval_metrics", "load_model", "log_model"]
