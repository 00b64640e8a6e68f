"""scikit-learn autologging: every estimator's ``fit`` (and ``fit_transform``/``fit_predict``).

One run per outermost fit: all params, estimator tags, training metrics, feature
importances, a dataset digest and the model; a search CV also gets one child run per
candidate. :func:`eval_metrics` logs the same metric set on held-out data.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import warnings
from typing import Any

from tunetrack.autologging import _common as c
from tunetrack.autologging import _refits as refits
from tunetrack.autologging._patch import (
    AUTOLOG_TAG,
    AutologConfig,
    Session,
    enable,
    is_patched,
    lock,
    revert,
    safe_patch,
)
from tunetrack.entities import RunStatus, RunTag
from tunetrack.errors import InvalidInput

INTEGRATION = "sklearn"
METHODS = ("fit", "fit_transform", "fit_predict")
SEARCH_CLASSES = (
    "GridSearchCV",
    "RandomizedSearchCV",
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
)
#: Data transformers: fitting one alone is not logged (see :func:`_is_transformer`).
TRANSFORMER_PACKAGES = tuple(
    f"sklearn.{name}."
    for name in ("preprocessing", "impute", "feature_extraction", "feature_selection")
)
_SKIP_MODULES = {"tests", "externals", "experimental", "conftest", "setup", "estimator_checks"}
_targets: list[tuple[type, str]] | None = None


def autolog(
    log_models: bool = True,
    log_datasets: bool = True,
    log_importances: bool = True,
    disable: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 50,
) -> None:
    """Log every scikit-learn fit (``disable=True`` removes the patches again)."""
    if disable:
        revert(INTEGRATION)
        return
    cfg = AutologConfig(log_models, log_datasets, log_importances, silent, max_tuning_runs)
    with lock:
        first = not is_patched(INTEGRATION)
        enable(INTEGRATION, cfg)
        if first:
            for owner, name in patch_targets():
                safe_patch(INTEGRATION, owner, name, _before, skip=_not_ours)


def patch_targets() -> list[tuple[type, str]]:
    """``(class, method)`` pairs to patch: every sklearn class in an estimator's MRO that
    defines ``fit``/``fit_transform``/``fit_predict`` itself (found once per process).

    The walk mirrors ``sklearn.utils.all_estimators()`` (public modules, public classes)
    but lists directories instead of importing packages: ``all_estimators`` imports every
    package it walks, including ``sklearn.externals.array_api_compat.{torch,dask}``, which
    costs seconds when torch or dask is installed.
    """
    global _targets
    if _targets is None:
        import sklearn
        from sklearn.base import BaseEstimator
        from sklearn.model_selection import _search_successive_halving as halving

        classes: set[type] = {halving.HalvingGridSearchCV, halving.HalvingRandomSearchCV}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in _public_modules(sklearn.__path__[0], "sklearn."):
                module = importlib.import_module(name)
                for attr, obj in vars(module).items():
                    public = not attr.startswith("_")
                    if public and isinstance(obj, type) and issubclass(obj, BaseEstimator):
                        classes.add(obj)
        found = {
            (base, method)
            for cls in classes
            for base in cls.__mro__
            if base.__module__.startswith("sklearn.")
            for method in METHODS
            if method in base.__dict__
        }
        _targets = sorted(found, key=lambda t: (t[0].__module__, t[0].__qualname__, t[1]))
    return _targets


def _public_modules(path: str, prefix: str) -> list[str]:
    names = []
    for info in pkgutil.iter_modules([path]):
        if info.name.startswith("_") or info.name in _SKIP_MODULES:
            continue
        names.append(prefix + info.name)
        if info.ispkg:
            names += _public_modules(os.path.join(path, info.name), f"{prefix}{info.name}.")
    return names


def _not_ours(obj: Any) -> bool:
    """Fits this integration leaves alone: XGBoost's sklearn wrappers (the XGBoost
    integration logs them) and scikit-learn's data transformers (:func:`_is_transformer`)."""
    cls: type = type(obj)
    return cls.__module__.split(".", 1)[0] == "xgboost" or _is_transformer(cls)


@functools.cache
def _is_transformer(cls: type) -> bool:
    """Whether ``cls`` (or the scikit-learn class it extends) comes from one of
    :data:`TRANSFORMER_PACKAGES`: a scaler, an encoder, an imputer, a vectorizer or a
    feature selector prepares data for a model and is never the run's model (as in MLflow,
    such a fit alone records nothing; inside a Pipeline it is part of the Pipeline's run).
    """
    base = next((k for k in cls.__mro__ if k.__module__.startswith("sklearn.")), None)
    return base is not None and base.__module__.startswith(TRANSFORMER_PACKAGES)


def _before(obj: Any, cfg: AutologConfig, args: tuple, kwargs: dict) -> Session:
    return SklearnSession(obj, cfg, args, kwargs)


def _is_search(est: Any) -> bool:
    return any(k.__name__ in SEARCH_CLASSES for k in type(est).__mro__) and hasattr(
        est, "cv_results_"
    )


class SklearnSession(Session):
    """One outermost scikit-learn fit and what it logs."""

    def __init__(self, est: Any, cfg: AutologConfig, args: tuple, kwargs: dict) -> None:
        tags = c.estimator_tags(est)
        super().__init__(INTEGRATION, cfg, args, kwargs, tags)
        self.est = est
        self.X = args[0] if args else kwargs.get("X")
        self.y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
        self.sample_weight = kwargs.get("sample_weight")

    def log_failure(self, exc: BaseException) -> None:
        known = refits.lookup(self.est)
        if known is None or known.run_id != self.run_id:  # a refit keeps the first params
            self.log_batch(params=c.params_of(self.est.get_params(deep=True))[0])

    def log(self, result: Any) -> None:
        est, cfg, attempt = self.est, self.config, self.attempt
        values = est.get_params(deep=True)
        tags: dict[str, str] = {}
        metrics: dict[str, float] = {}
        y_pred = None
        if self.y is not None:
            found = attempt(_metric_values, est, self.X, self.y, self.sample_weight)
            if found:
                scores, y_pred = found
                metrics.update({f"training_{k}": val for k, val in scores.items()})
        search = _is_search(est)
        model = getattr(est, "best_estimator_", None) if search else est
        if search:
            best = getattr(est, "best_params_", None) or {}
            values.update({f"best_{k}": val for k, val in best.items()})
            if hasattr(est, "best_score_"):
                metrics["best_cv_score"] = float(est.best_score_)
        fits = refits.record(est, self.run_id, values)
        params: list = []
        if fits.count == 1:
            params, truncated = c.params_of(values)
            if truncated:
                tags[c.TRUNCATED_TAG] = ",".join(truncated)[:7000]
        else:
            tags[refits.REFITS_TAG] = fits.tag()
        log_importances = cfg.log_importances and model is not None
        importances = attempt(_importances, model) if log_importances else None
        if importances:
            metrics.update(c.importance_metrics(importances[2][: c.TOP_K], "importance."))
        log_dataset = cfg.log_datasets and self.X is not None
        dataset = attempt(c.dataset_info, self.X, self.y) if log_dataset else None
        if dataset:
            tags.update(c.dataset_tags(dataset))
        run_tags = [RunTag(k, val) for k, val in tags.items()]
        attempt(self.log_batch, c.metrics_of(metrics, fits.step), params, run_tags)
        if importances:
            attempt(_log_importances, self, *importances)
        if dataset:
            attempt(c.write_json, self, "dataset.json", dataset)
        if search:
            attempt(_log_candidates, self, est)
        if cfg.log_models and model is not None:
            path = attempt(c.log_model, self, model, self.X, y_pred, fits.model_path)
            fits.model_path = path or fits.model_path


# -- metrics ------------------------------------------------------------------------------
def _metric_values(
    est: Any, X: Any, y: Any, sample_weight: Any = None
) -> tuple[dict[str, float], Any] | None:
    """Classification or regression metrics of ``est`` on ``(X, y)``, and its predictions.

    None for estimators that are neither classifiers nor regressors, or cannot predict.
    The metrics are computed with numpy (:func:`_common.classification_metrics`).
    """
    import numpy as np
    from sklearn.base import is_classifier, is_regressor

    classifier = is_classifier(est)
    if not hasattr(est, "predict") or not (classifier or is_regressor(est)):
        return None
    y_true = np.asarray(y)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if not classifier:
        y_pred = est.predict(X)
        return c.regression_metrics(y_true, np.asarray(y_pred), w), y_pred
    if y_true.ndim > 1 and y_true.shape[1] > 1:
        return None  # multilabel / multioutput classification: no single metric set
    y_true = y_true.ravel()
    classes = getattr(est, "classes_", None)
    proba = est.predict_proba(X) if hasattr(est, "predict_proba") and classes is not None else None
    if proba is not None and _predict_is_argmax(est):
        y_pred = np.asarray(classes).take(np.argmax(proba, axis=1), axis=0)
    else:
        y_pred = est.predict(X)
    return c.classification_metrics(y_true, np.asarray(y_pred).ravel(), proba, classes, w), y_pred


def _predict_is_argmax(est: Any) -> bool:
    """True when ``est.predict`` is literally ``classes_[argmax(predict_proba)]`` (forests):
    their predictions come from the probabilities already computed, at half the cost.
    """
    from sklearn.ensemble._forest import ForestClassifier

    return (
        isinstance(est, ForestClassifier)
        and type(est).predict is ForestClassifier.predict
        and type(est).predict_proba is ForestClassifier.predict_proba
        and getattr(est, "n_outputs_", 1) == 1
    )


def eval_metrics(
    model: Any, X: Any, y: Any, prefix: str = "val_", *, sample_weight: Any = None
) -> dict[str, float]:
    """Compute the training metric set on held-out data and log it.

    Logs into the active run, else into the run autolog created for ``model``. Returns the
    metrics by their logged names (``val_accuracy``...).
    """
    from tunetrack.tracking import fluent

    active = fluent.active_run()
    known = refits.lookup(model)
    run_id = active.info.run_id if active else known.run_id if known else None
    if run_id is None:
        raise InvalidInput("eval_metrics needs an active run or a model fitted under autolog")
    found = _metric_values(model, X, y, sample_weight)
    if found is None:
        raise InvalidInput(f"{type(model).__name__} is neither a classifier nor a regressor")
    metrics = {f"{prefix}{k}": val for k, val in found[0].items()}
    _, client = fluent.target_run(run_id)
    client.log_batch(run_id, metrics=c.metrics_of(metrics))
    return metrics


# -- importances and search candidates ----------------------------------------------------
def _importances(model: Any) -> tuple[str, dict[str, float], list[tuple[str, float]]] | None:
    """``(source, {name: value}, ranked)`` from ``feature_importances_`` or abs ``coef_``."""
    import numpy as np

    final = model
    while hasattr(final, "steps"):  # Pipeline: the last step that is an estimator
        final = next((s for _, s in reversed(final.steps) if s not in (None, "passthrough")), None)
    if final is None:
        return None
    source, values = "feature_importances_", getattr(final, "feature_importances_", None)
    if values is None:
        source, values = "coef_", getattr(final, "coef_", None)
        if values is None:
            return None
        values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        values = np.abs(values)
        if values.ndim == 2:
            values = values.mean(axis=0)  # averaged over classes / outputs
    values = np.asarray(values, dtype=float).ravel()
    names = c.feature_names(len(values), final, model)
    return source, dict(zip(names, values.tolist(), strict=True)), c.top_k(names, values)


def _log_importances(
    session: SklearnSession, source: str, everything: dict[str, float], ranked: list
) -> None:
    ordered = dict(sorted(everything.items(), key=lambda kv: -kv[1]))
    c.write_json(session, "feature_importances.json", {"source": source, "importances": ordered})
    names, values = [n for n, _ in ranked[: c.TOP_K]], [val for _, val in ranked[: c.TOP_K]]
    png = c.bar_plot(f"Feature importance ({source})", names, {source: values})
    if png is not None:
        session.artifacts.write_bytes("feature_importances.png", png)


def _log_candidates(session: SklearnSession, search: Any) -> None:
    """One child run per candidate (best-ranked first, at most ``max_tuning_runs``)."""
    import numpy as np

    from tunetrack.tracking.fluent import PARENT_TAG

    results = search.cv_results_
    refit = search.refit if isinstance(search.refit, str) else "score"
    rank_key = f"rank_test_{refit}"
    if rank_key not in results:
        rank_key = next(k for k in results if k.startswith("rank_test_"))
    order = np.argsort(np.asarray(results[rank_key]), kind="stable")
    limit = session.config.max_tuning_runs
    if limit is not None:
        order = order[:limit]
    keys = [k for k in results if k.startswith(("mean_", "std_", "rank_"))]
    client, info = session.client, session.run.info
    name = type(getattr(search, "estimator", search)).__name__
    for i in order.tolist():
        child = client.create_run(
            info.experiment_id,
            tags={PARENT_TAG: session.run_id, AUTOLOG_TAG: INTEGRATION, "estimator_name": name},
            run_name=f"{info.run_name}-candidate-{i}",
            parent_run_id=session.run_id,
        )
        child_id = child.info.run_id
        metrics = {k: float(results[k][i]) for k in keys}
        session.log_batch(
            c.metrics_of(metrics), c.params_of(results["params"][i])[0], run_id=child_id
        )
        client.set_terminated(child_id, RunStatus.FINISHED)
