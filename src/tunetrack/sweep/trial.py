"""The trial handle an objective receives: its params, its run, and pruning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

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

    def __repr__(self) -> str:
        return f"<Trial number={self.number} mode={self.mode} params={self.params}>"
