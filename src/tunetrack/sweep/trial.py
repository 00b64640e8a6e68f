"""The trial handle an objective receives: its params, its run, pruning, and
define-by-run parameters (``trial.suggest_*``, as in optuna)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any, Literal, Protocol

from tunetrack.entities import Param, RunTag
from tunetrack.errors import InvalidInput
from tunetrack.sweep.space import Categorical, Distribution, Float, Int, SearchSpace, SpaceError
from tunetrack.sweep.tags import TRIAL_MODEL, TRIAL_PARAMS, TRIAL_SUGGESTED
from tunetrack.tracking.client import Client


class TrialPruned(Exception):
    """Raise from an objective to stop a trial early; its run ends PRUNED."""


def is_pruned(exc: BaseException) -> bool:
    """Whether ``exc`` stops its trial as pruned: a :class:`TrialPruned` or an
    ``optuna.TrialPruned`` (or a subclass of either; recognised by type, not by name)."""
    if isinstance(exc, TrialPruned):
        return True
    optuna_exceptions = sys.modules.get("optuna.exceptions")  # raising one imported it
    return optuna_exceptions is not None and isinstance(exc, optuna_exceptions.TrialPruned)


class Pruner(Protocol):
    """Where intermediate values go and prune decisions come from."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


class Suggester(Protocol):
    """Where define-by-run values come from: the trial in the sweep's optuna study."""

    def suggest(self, name: str, distribution: Distribution) -> Any: ...


class Trial:
    """One trial of a sweep, as the objective sees it.

    * **number** - the trial's number within the sweep (0, 1, 2, …)
    * **params** - the proposed hyperparameters (a flat dict)
    * **run_id** - the trial's child run (active while the objective runs)
    * **tracking_uri** - where that run lives (for mlflow, with a tunetrack server)
    * **mode** - ``"train"`` in the sweep, ``"retrain"`` when the best trial is retrained
    * **user_attrs** - what :meth:`set_user_attr` set (each also a tag of the run)

    :meth:`suggest_float`, :meth:`suggest_int` and :meth:`suggest_categorical` add
    parameters define-by-run, as optuna's trial does: the sweep's sampler proposes them
    and learns from them, and they are recorded with ``params``. Retraining returns the
    best trial's values.

    The objective names its model with :meth:`log_model`, or by returning it under the
    result's ``"model"`` key (:func:`take_returned_model`).
    """

    def __init__(
        self,
        *,
        number: int,
        params: Mapping[str, Any],
        run_id: str,
        sweep_id: str,
        metric: str,
        client: Client,
        pruner: Pruner | None = None,
        suggester: Suggester | None = None,
        mode: Literal["train", "retrain"] = "train",
    ) -> None:
        self.number = number
        self.params = dict(params)
        self.run_id = run_id
        self.sweep_id = sweep_id
        self.mode = mode
        self._metric = metric
        self._client = client
        self._pruner = pruner
        self._suggester = suggester
        self._suggested: list[tuple[str, Distribution]] = []
        self.user_attrs: dict[str, Any] = {}
        self.last_step: int | None = None

    @property
    def tracking_uri(self) -> str:
        """The tracking URI of the trial's run. With a tunetrack server, code that logs
        through mlflow logs into this run after ``mlflow.set_tracking_uri(trial.tracking_uri)``
        and ``mlflow.start_run(run_id=trial.run_id)``."""
        return self._client.tracking_uri

    def report(self, value: float, step: int, name: str | None = None) -> None:
        """Log an intermediate value (the sweep metric unless ``name``) and feed the pruner."""
        self._client.log_metric(self.run_id, name or self._metric, value, step=step)
        if name is None or name == self._metric:
            self.last_step = step
            if self._pruner is not None:
                self._pruner.report(float(value), int(step))

    def should_prune(self) -> bool:
        """Whether the pruner asks this trial to stop (raise :class:`TrialPruned` then)."""
        return self._pruner is not None and self._pruner.should_prune()

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """A float in ``[low, high]`` (on a log scale, or on a grid of ``step``)."""
        return self._suggest(name, lambda: Float(low, high, log=log, step=step))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer in ``[low, high]`` (every ``step``, or on a log scale)."""
        return self._suggest(name, lambda: Int(low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices`` (None, bools, numbers or strings)."""
        return self._suggest(name, lambda: Categorical(tuple(choices)))

    def _suggest(self, name: str, make: Callable[[], Distribution]) -> Any:
        """The value of parameter ``name``: the one it has (from the sweep's parameters, an
        earlier suggestion, or the trial retrained), else a new one from the sweep's
        sampler, recorded in the run (param, ``tunetrack.trial.params`` and the
        distribution in ``tunetrack.trial.suggested``)."""
        if name in self.params:
            return self.params[name]
        try:
            suggested = [*self._suggested, (name, make())]
            space = SearchSpace(suggested)
        except SpaceError as exc:
            raise InvalidInput(f"trial.suggest_*({name!r}): {exc}") from None
        if self._suggester is None:
            raise InvalidInput(
                f"trial.suggest_*({name!r}): this {self.mode} run has no value for {name!r} "
                "and no sweep to ask for one"
            )
        value = self._suggester.suggest(name, suggested[-1][1])
        self.params[name] = value
        self._suggested = suggested
        self._client.log_batch(
            self.run_id,
            params=[Param(name, str(value))],
            tags=[
                RunTag(TRIAL_PARAMS, json.dumps(self.params, default=str)),
                RunTag(TRIAL_SUGGESTED, space.to_json()),
            ],
        )
        return value

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach ``value`` to the trial, as optuna's ``set_user_attr``: stored as the tag
        ``key`` of its run (a string as it is, anything else as JSON)."""
        if key.startswith("tunetrack."):
            raise InvalidInput(f"user attribute {key!r}: names starting tunetrack. are reserved")
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        self._client.set_tag(self.run_id, key, text)
        self.user_attrs[key] = value

    def log_model(self, model: Any, *, input_example: Any = None) -> str:
        """Save ``model`` as the model that produced this trial's result: retrain registers
        it, whatever else autolog saved. Returns its artifact path (``model``, or
        ``model_2``... when autolog took the first); a second call names the later model.
        """
        from tunetrack.autologging._common import log_model_at_free_path

        path = log_model_at_free_path(model, self.run_id, input_example=input_example)
        self._client.set_tag(self.run_id, TRIAL_MODEL, path)
        return path

    def __repr__(self) -> str:
        return f"<Trial number={self.number} mode={self.mode} params={self.params}>"


def take_returned_model(trial: Trial, output: object) -> object:
    """The objective's result without its model: a dict's ``"model"`` entry that is not a
    number is logged with :meth:`Trial.log_model` and removed; anything else is returned
    unchanged."""
    if not isinstance(output, Mapping) or "model" not in output:
        return output
    model = output["model"]
    if isinstance(model, Real):
        return output  # a metric that happens to be called "model"
    trial.log_model(model)
    return {k: val for k, val in output.items() if k != "model"}
