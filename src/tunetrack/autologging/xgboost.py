"""XGBoost autologging: ``xgboost.train`` and the sklearn wrappers' ``fit``.

Params; every boosting round's eval metrics as step metrics ``<eval_name>-<metric>`` (a
:class:`xgboost.callback.TrainingCallback` feeding the batched writer, appended after the
user's callbacks); best iteration and score with early stopping; weight/gain/cover
importances; the model in XGBoost's native format.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from tunetrack.autologging import _common as c
from tunetrack.autologging._patch import (
    AutologConfig,
    Session,
    enable,
    is_patched,
    lock,
    revert,
    safe_patch,
)
from tunetrack.entities import RunTag

INTEGRATION = "xgboost"
IMPORTANCE_TYPES = ("weight", "gain", "cover")


def autolog(
    log_models: bool = True,
    log_datasets: bool = True,
    log_importances: bool = True,
    disable: bool = False,
    silent: bool = False,
) -> None:
    """Log every ``xgboost.train`` call and sklearn-wrapper fit (``disable=True`` undoes it)."""
    if disable:
        revert(INTEGRATION)
        return
    with lock:
        first = not is_patched(INTEGRATION)
        enable(INTEGRATION, AutologConfig(log_models, log_datasets, log_importances, silent))
        if first:
            _patch_xgboost()


def _patch_xgboost() -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    for module in (xgboost, xgboost.training):
        safe_patch(INTEGRATION, module, "train", _before_train)
    wrappers = [
        cls
        for cls in vars(xgboost.sklearn).values()
        if isinstance(cls, type) and issubclass(cls, xgboost.XGBModel)
    ]
    owners = {base for cls in wrappers for base in cls.__mro__ if "fit" in base.__dict__}
    for owner in sorted(owners, key=lambda k: k.__qualname__):
        if owner.__module__.startswith("xgboost."):
            safe_patch(INTEGRATION, owner, "fit", _before_fit)


@functools.cache
def _callback_class() -> type:
    from xgboost.callback import TrainingCallback

    class StepMetrics(TrainingCallback):
        """Logs the last value of every eval metric at step = boosting round."""

        def __init__(self, session: Session) -> None:
            super().__init__()
            self.session = session
            self.keys: dict[tuple[str, str], str] = {}
            self.error: Exception | None = None

        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            if self.error is None:
                try:
                    self._log(epoch, evals_log)
                except Exception as exc:  # never break the user's training
                    self.error = exc
            return False

        def _log(self, epoch: int, evals_log: dict) -> None:
            log_metric, run_id, keys = (
                self.session.client.log_metric,
                self.session.run_id,
                self.keys,
            )
            for data, metrics in evals_log.items():
                for metric, history in metrics.items():
                    key = keys.get((data, metric))
                    if key is None:
                        key = keys[(data, metric)] = c.safe_key(f"{data}-{metric}")
                    value = history[-1]
                    log_metric(
                        run_id, key, value[0] if isinstance(value, tuple) else value, None, epoch
                    )

    return StepMetrics


class XGBoostSession(Session):
    """One outermost ``xgboost.train`` call or wrapper fit."""

    def __init__(self, cfg: AutologConfig, args: tuple, kwargs: dict, tags: dict[str, str]) -> None:
        super().__init__(INTEGRATION, cfg, args, kwargs, tags)
        self.params: dict[str, Any] = {}
        self.callback: Any = None
        self.X: Any = None
        self.y: Any = None

    def new_callback(self) -> Any:
        self.callback = _callback_class()(self)
        return self.callback

    def log_failure(self, exc: BaseException) -> None:
        self.log_batch(params=c.params_of(self.params)[0])

    def log_model_run(self, booster: Any, model: Any, metrics: dict[str, float]) -> None:
        """Log everything once training returned ``booster`` (``model``: what to save)."""
        cfg, attempt = self.config, self.attempt
        if self.callback is not None and self.callback.error is not None:
            self.errors.append(self.callback.error)
        for name in ("best_iteration", "best_score"):
            value = booster.attr(name)
            if value is not None:
                metrics[name] = float(value)
        tags: dict[str, str] = {}
        dataset = attempt(self.dataset) if cfg.log_datasets else None
        if dataset:
            tags.update(c.dataset_tags(dataset))
        params, truncated = c.params_of(self.params)
        if truncated:
            tags[c.TRUNCATED_TAG] = ",".join(truncated)[:7000]
        run_tags = [RunTag(k, v) for k, v in tags.items()]
        attempt(self.log_batch, c.metrics_of(metrics), params, run_tags)
        if dataset:
            attempt(c.write_json, self, "dataset.json", dataset)
        if cfg.log_importances:
            attempt(_log_importances, self, booster)
        if cfg.log_models:
            attempt(c.log_model, self, model, self.X)

    def dataset(self) -> dict[str, Any]:
        """Shape, columns and digest of the training data."""
        return c.dataset_info(self.X, self.y)


# -- xgboost.train ---------------------------------------------------------------------
def _before_train(obj: Any, cfg: AutologConfig, args: tuple, kwargs: dict) -> Session | None:
    import xgboost

    try:
        bound = inspect.signature(xgboost.training.train).bind(*args, **kwargs)
    except TypeError:  # the user's call is wrong: let xgboost say so, log nothing
        return None
    arguments = bound.arguments
    session = TrainSession(cfg, args, kwargs, {"estimator_name": "Booster"})
    params = arguments.get("params") or {}
    if not isinstance(params, dict):  # a list of pairs (repeated eval_metric)
        grouped: dict[str, Any] = {}
        for key, value in params:
            grouped.setdefault(key, []).append(value)
        params = {k: val[0] if len(val) == 1 else val for k, val in grouped.items()}
    session.params = dict(params)
    session.params["num_boost_round"] = arguments.get("num_boost_round", 10)
    for name in ("early_stopping_rounds", "maximize"):
        if arguments.get(name) is not None:
            session.params[name] = arguments[name]
    session.dtrain = arguments.get("dtrain")
    arguments["callbacks"] = [*(arguments.get("callbacks") or ()), session.new_callback()]
    session.args, session.kwargs = bound.args, bound.kwargs
    return session


class TrainSession(XGBoostSession):
    """``xgboost.train(params, dtrain, ...)``."""

    dtrain: Any = None

    def log(self, result: Any) -> None:
        self.log_model_run(result, result, {})

    def dataset(self) -> dict[str, Any]:
        dtrain = self.dtrain
        data = dtrain.get_data()
        label = dtrain.get_label()
        info = c.dataset_info(data, label if label.size else None, source="xgboost.DMatrix")
        info["shape"] = [dtrain.num_row(), dtrain.num_col()]
        if dtrain.feature_names:
            info["columns"] = list(dtrain.feature_names)
        return info


# -- sklearn wrappers ------------------------------------------------------------------
def _before_fit(obj: Any, cfg: AutologConfig, args: tuple, kwargs: dict) -> Session:
    return FitSession(obj, cfg, args, kwargs)


class FitSession(XGBoostSession):
    """``XGBClassifier().fit(X, y, eval_set=...)`` and the other wrappers."""

    def __init__(self, est: Any, cfg: AutologConfig, args: tuple, kwargs: dict) -> None:
        tags = c.estimator_tags(est)
        super().__init__(cfg, args, kwargs, tags)
        self.est = est
        self.params = est.get_params()
        self.X = args[0] if args else kwargs.get("X")
        self.y = args[1] if len(args) > 1 else kwargs.get("y")
        self._user_callbacks = est.callbacks
        self._rf = "XGBRF" in type(est).__name__  # random forests refuse callbacks

    def prepare(self) -> None:
        if not self._rf:  # ours goes after the user's own callbacks
            self.est.callbacks = [*(self._user_callbacks or ()), self.new_callback()]

    def restore(self) -> None:
        self.est.callbacks = self._user_callbacks

    def log(self, result: Any) -> None:
        self.restore()
        if self._rf:
            self.attempt(self._log_evals_result)
        self.log_model_run(self.est.get_booster(), self.est, {})

    def _log_evals_result(self) -> None:
        client, run_id = self.client, self.run_id
        for data, metrics in (getattr(self.est, "evals_result_", None) or {}).items():
            for metric, history in metrics.items():
                key = c.safe_key(f"{data}-{metric}")
                for step, value in enumerate(history):
                    client.log_metric(run_id, key, value, None, step)


# -- importances -----------------------------------------------------------------------
def _log_importances(session: XGBoostSession, booster: Any) -> None:
    scores: dict[str, dict[str, float]] = {}
    for kind in IMPORTANCE_TYPES:
        try:
            scores[kind] = {k: float(v) for k, v in booster.get_score(importance_type=kind).items()}
        except Exception:  # gblinear has no gain/cover: log what exists
            continue
        ordered = dict(sorted(scores[kind].items(), key=lambda kv: -kv[1]))
        c.write_json(session, f"feature_importance_{kind}.json", ordered)
    if not scores:
        return
    names = list(booster.feature_names or []) or sorted(
        {k for s in scores.values() for k in s}, key=lambda k: (len(k), k)
    )
    key = "gain" if "gain" in scores else next(iter(scores))
    ranked = sorted(names, key=lambda n: -scores[key].get(n, 0.0))[: c.TOP_K]
    columns = {kind: [s.get(n, 0.0) for n in ranked] for kind, s in scores.items()}
    png = c.bar_plot(f"Feature importance (top {len(ranked)} by {key})", ranked, columns)
    if png is not None:
        session.artifacts.write_bytes("feature_importance.png", png)
