"""Autologging: ``tunetrack.autolog()`` logs scikit-learn and XGBoost training by itself.

Each integration patches its library once (:mod:`tunetrack.autologging._patch` holds the one
patching mechanism); ``autolog(disable=True)`` restores the original functions. Only the
outermost patched call logs, so a Pipeline or a search CV makes one run (plus one child
run per search candidate), and an ``XGBClassifier`` fit is logged once, by XGBoost.

``tunetrack.autolog`` is :data:`autolog`, from this package (named apart from it, so
importing the package never replaces the callable on ``tunetrack``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from typing import Any

from tunetrack.autologging._patch import AutologWarning, config, is_testing, paused

__all__ = [
    "INTEGRATIONS",
    "Autolog",
    "AutologWarning",
    "autolog",
    "enabled_integrations",
    "paused",
]

#: integration module -> the library it patches
INTEGRATIONS = {"sklearn": "sklearn", "xgboost": "xgboost"}


class Autolog:
    """The type of :data:`autolog` (``tunetrack.autolog``): call it to turn autologging on
    or off; ``tunetrack.autolog.paused()`` keeps a block out of the record."""

    paused = staticmethod(paused)

    def __call__(
        self,
        log_models: bool = True,
        log_datasets: bool = True,
        log_importances: bool = True,
        disable: bool = False,
        silent: bool = False,
        max_tuning_runs: int | None = 50,
        *,
        imported_only: bool = False,
    ) -> None:
        """Turn on autologging for every installed integration (or off, with ``disable=True``).

        Args:
            log_models: save the fitted model (``model`` artifact, with its signature).
            log_datasets: log a digest of the training data (``dataset.*`` tags, ``dataset.json``).
            log_importances: log feature importances (metrics, JSON and a PNG bar chart).
            disable: remove every patch, restoring the libraries' own functions.
            silent: report logging failures through :mod:`logging` instead of warnings.
            max_tuning_runs: most child runs logged per search CV (best-ranked first);
                None logs every candidate.
            imported_only: only patch libraries this process has imported already (sweep
                workers use it so an objective that never touches XGBoost does not pay
                for importing it).
        """
        for name, library in INTEGRATIONS.items():
            if disable:
                if config(name) is not None or f"tunetrack.autologging.{name}" in sys.modules:
                    importlib.import_module(f"tunetrack.autologging.{name}").autolog(disable=True)
                continue
            if imported_only and library not in sys.modules:
                continue  # before find_spec: searching sys.path costs a sweep trial ~1 ms
            if importlib.util.find_spec(library) is None:
                continue
            options: dict[str, Any] = {
                "log_models": log_models,
                "log_datasets": log_datasets,
                "log_importances": log_importances,
                "silent": silent,
            }
            if name == "sklearn":
                options["max_tuning_runs"] = max_tuning_runs
            try:
                importlib.import_module(f"tunetrack.autologging.{name}").autolog(**options)
            except Exception as exc:  # a broken install of one library must not stop the others
                if is_testing():
                    raise
                warnings.warn(
                    f"tunetrack autolog: could not enable the {name} integration: {exc}",
                    AutologWarning,
                    stacklevel=2,
                )


#: ``tunetrack.autolog``: ``autolog(...)`` turns autologging on, ``autolog.paused()``
#: pauses it in a block.
autolog = Autolog()


def enabled_integrations() -> list[str]:
    """Names of the integrations that are on."""
    return [name for name in INTEGRATIONS if config(name) is not None]
