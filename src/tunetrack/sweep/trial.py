"""The trial handle an objective receives: its params, its run, and pruning."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any, Literal, Protocol

from tunetrack.sweep.tags import TRIAL_MODEL
from tunetrack.tracking.client import Client


class TrialPruned(Exception):
    """Raise from an objective to stop a trial early; its run ends PRUNED."""


class Pruner(Protocol):
    """Where intermediate values go and prune decisions come from."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


class Trial:
    """One trial of a sweep, as the objective sees it.

    * **number** - the trial's number within the sweep (0, 1, 2, …)
    * **params** - the proposed hyperparameters (a flat dict)
    * **run_id** - the trial's child run (active while the objective runs)
    * **mode** - ``"train"`` in the sweep, ``"retrain"`` when the best trial is retrained

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
        self.last_step: int | None = None

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

    def log_model(self, model: Any, *, input_example: Any = None) -> str:
        """Save ``model`` as the model that produced this trial's result: retrain registers
        it, whatever else autolog saved. Returns its artifact path (``model``, or
        ``model_2``... when autolog took the first); a second call names the later model.
        """
        from tunetrack.autolog._common import log_model_at_free_path

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
