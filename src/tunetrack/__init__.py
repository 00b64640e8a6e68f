"""tunetrack: hyperparameter sweeps with their own experiment tracking.

The fluent tracking API keeps MLflow's names (``start_run``, ``log_metric``, ``search_runs``
…), so a script written in that style ports by changing its import. Everything here is
loaded on first use: ``import tunetrack`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunetrack._lazy import lazy_attributes

__version__ = "0.1.0"

_FLUENT = (
    "ActiveRun",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_SYSTEM_METRICS = (
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "set_system_metrics_sampling_interval",
)
_LAZY: dict[str, str] = {name: "tunetrack.tracking.fluent" for name in _FLUENT}
_LAZY.update({name: "tunetrack.tracking.system_metrics" for name in _SYSTEM_METRICS})
_LAZY.update(
    {
        "Client": "tunetrack.tracking.client",
        "TrialPruned": "tunetrack.sweep.trial",
        "autolog": "tunetrack.autologging",
        "data": "tunetrack.data",
        "models": "tunetrack.models",
        "sklearn": "tunetrack.sklearn",
        "sweep": "tunetrack.sweep",
        "xgboost": "tunetrack.xgboost",
        "log_model": "tunetrack.models",
        "load_model": "tunetrack.models",
        "RunStatus": "tunetrack.entities",
        "ViewType": "tunetrack.entities",
        "entities": "tunetrack.entities",
        "errors": "tunetrack.errors",
    }
)

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from tunetrack import data, entities, errors, models, sklearn, sweep, xgboost  # noqa: F401
    from tunetrack.autologging import autolog  # noqa: F401
    from tunetrack.entities import RunStatus, ViewType  # noqa: F401
    from tunetrack.models import load_model, log_model  # noqa: F401
    from tunetrack.sweep.trial import TrialPruned  # noqa: F401
    from tunetrack.tracking.client import Client  # noqa: F401
    from tunetrack.tracking.fluent import *  # noqa: F403
    from tunetrack.tracking.system_metrics import (  # noqa: F401
        disable_system_metrics_logging,
        enable_system_metrics_logging,
        set_system_metrics_sampling_interval,
    )


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)
