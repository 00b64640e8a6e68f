"""What a sweep came to: a :class:`SweepResult` (what one run of the sweep did) and, read
from the tracking store, its best trial, its trials as a table, and retraining the best one.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunetrack.entities import Run
from tunetrack.sweep import tags as T
from tunetrack.sweep.outcomes import FailureGroup
from tunetrack.sweep.retrain import retrain as retrain_sweep
from tunetrack.sweep.select import trial_params
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:
    import pandas as pd

    from tunetrack.sweep.config import SweepConfig
    from tunetrack.sweep.worker import TrialResult


@dataclass(frozen=True)
class BestTrial:
    """The best finished trial under the sweep's selection constraints."""

    number: int
    run_id: str
    params: dict[str, Any]  # with their Python types, define-by-run ones included
    value: float  # of the sweep's (first) metric
    metrics: dict[str, float]  # its latest value of every metric


class SweepRecords:
    """Properties and methods that read a sweep's records from its tracking store.

    Mixed into :class:`SweepResult`, which provides ``sweep_id``,
    ``tracking_uri``, ``config`` (None: the one stored with the sweep), ``best_run_id``,
    ``best_value`` and ``retrain_run_id``. Each property reads the store once.
    """

    sweep_id: str
    tracking_uri: str
    config: SweepConfig | None
    best_run_id: str | None
    best_value: float | None
    retrain_run_id: str | None

    def _client(self) -> Client:
        return Client(self.tracking_uri or None)

    @functools.cached_property
    def best(self) -> BestTrial | None:
        """The best trial (None when no trial finished with the metric, within the
        constraints)."""
        if self.best_run_id is None:
            return None
        run = self._client().get_run(self.best_run_id)
        return BestTrial(
            number=int(run.data.tags[T.TRIAL_NUMBER]),
            run_id=run.info.run_id,
            params=trial_params(run),
            value=float("nan") if self.best_value is None else self.best_value,
            metrics=dict(run.data.metrics),
        )

    @functools.cached_property
    def trials(self) -> pd.DataFrame:
        """One row per trial, by number: ``number``, ``status``, ``params.<name>`` (Python
        types), ``metrics.<name>`` (latest values), ``run_id``, ``duration`` (seconds; NaN
        while running)."""
        import pandas as pd

        client = self._client()
        runs = trial_runs(client, client.get_run(self.sweep_id))
        rows = [_trial_row(run) for run in runs]
        params = sorted({c for row in rows for c in row if c.startswith("params.")})
        metrics = sorted({c for row in rows for c in row if c.startswith("metrics.")})
        columns = ["number", "status", *params, *metrics, "run_id", "duration"]
        return pd.DataFrame(rows, columns=columns)

    def retrain(self, register_as: str | None = None, alias: str | None = None) -> Run:
        """Rerun the best trial's parameters in a new run under the sweep (``trial.mode``
        is ``"retrain"``); with ``register_as``, register its model (and set ``alias``).
        Defaults come from the sweep's ``retrain`` section; returns the new run."""
        run = retrain_sweep(
            self.sweep_id,
            tracking_uri=self.tracking_uri or None,
            register_as=register_as,
            alias=alias,
            config=self.config,
        )
        self.retrain_run_id = run.info.run_id
        return run


@dataclass
class SweepResult(SweepRecords):
    """What a sweep came to: what this invocation did (``results``, in completion order),
    and, read from the tracking store, ``best`` (a :class:`~tunetrack.sweep.results.BestTrial`),
    ``trials`` (a DataFrame) and :meth:`retrain` (see :class:`SweepRecords`)."""

    sweep_id: str
    experiment_id: str
    stopped_because: str
    stop_message: str = ""  # why, in words (also the parent's tunetrack.sweep.stopped tag)
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[FailureGroup] = field(default_factory=list)  # by reason, most first
    results: list[TrialResult] = field(default_factory=list, repr=False)
    best_run_id: str | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    retrain_run_id: str | None = None
    tracking_uri: str = ""
    config: SweepConfig | None = field(default=None, repr=False)  # None: the stored one


def _trial_row(run: Run) -> dict[str, Any]:
    end = run.info.end_time
    return {
        "number": int(run.data.tags[T.TRIAL_NUMBER]),
        "status": run.info.status.value,
        **{f"params.{k}": v for k, v in trial_params(run).items()},
        **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
        "run_id": run.info.run_id,
        "duration": math.nan if end is None else (end - run.info.start_time) / 1000,
    }
