"""Sweeps from Python: :func:`run` a function, :func:`load` a sweep file or a stored sweep
as a :class:`Sweep`, read a sweep's :func:`result`. One config model and one engine with the
YAML path: a sweep file and the keyword arguments of :func:`run` are the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunetrack.errors import InvalidInput, NotFound
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import SweepConfig, build_sweep_config, load_sweep_config
from tunetrack.sweep.results import SweepResult
from tunetrack.sweep.runner import resume_sweep, run_sweep
from tunetrack.sweep.stored import load_stored_config
from tunetrack.tracking.client import Client

_SWEEP_FILE_SUFFIXES = (".yaml", ".yml")


def run(
    objective: Callable[..., Any],
    *,
    metric: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any] | None = None,
    method: str | None = None,
    budget: Mapping[str, Any] | None = None,
    parallel: Mapping[str, Any] | None = None,
    early_terminate: Mapping[str, Any] | None = None,
    select: Mapping[str, Any] | None = None,
    retrain: Mapping[str, Any] | None = None,
    autolog: Mapping[str, Any] | None = None,
    name: str | None = None,
    experiment: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    seed: int | None = None,
    tracking_uri: str | None = None,
    progress: bool | None = None,
) -> SweepResult:
    """Run a sweep of ``objective`` (``def objective(params[, trial])``, defined anywhere:
    a module, a script's ``__main__``, a notebook) and return its :class:`SweepResult`.

    The keywords are the keys of a sweep file, with the same values and defaults
    (``metric={"name": "accuracy", "goal": "maximize"}``,
    ``parameters={"lr": {"distribution": "log_uniform", "min": 1e-4, "max": 0.1}}``,
    ``parallel={"n_jobs": 2, "backend": "loky"}``, ...); ``parameters`` may be left out
    when the objective asks ``trial.suggest_*`` for all of them. ``name`` defaults to the
    function's name. Invalid keys raise :class:`~tunetrack.sweep.config.SweepConfigError`.
    """
    given = {
        "metric": metric,
        "parameters": parameters,
        "method": method,
        "budget": budget,
        "parallel": parallel,
        "early_terminate": early_terminate,
        "select": select,
        "retrain": retrain,
        "autolog": autolog,
        "name": name,
        "experiment": experiment,
        "description": description,
        "tags": tags,
        "seed": seed,
    }
    keys = {key: value for key, value in given.items() if value is not None}
    config = build_sweep_config({"objective": objective, **keys}, source="tunetrack.sweep.run")
    return Sweep(config, tracking_uri=tracking_uri).run(progress=progress)


@dataclass(frozen=True)
class Sweep:
    """A sweep's configuration, and the sweep it is in the store once it ran (``sweep_id``).

    :meth:`run` starts a new sweep from the configuration; :meth:`resume` continues the
    stored sweep; :meth:`result` reads it.
    """

    config: SweepConfig
    sweep_id: str | None = None
    tracking_uri: str | None = None
    overrides: tuple[str, ...] = ()

    def run(self, *, progress: bool | None = None) -> SweepResult:
        """Run the configuration as a new sweep (a new parent run and its trials)."""
        return run_sweep(
            self.config, tracking_uri=self.tracking_uri, overrides=self.overrides, progress=progress
        )

    def resume(self, *, progress: bool | None = None, force: bool = False) -> SweepResult:
        """Continue the stored sweep (see :func:`~tunetrack.sweep.runner.resume_sweep`)."""
        return resume_sweep(
            self._stored_id("resume"),
            tracking_uri=self.tracking_uri,
            overrides=self.overrides,
            progress=progress,
            force=force,
            objective=self.config.objective.func,
        )

    def result(self) -> SweepResult:
        """The stored sweep as it is now: counts, best trial, trials, :meth:`retrain`."""
        client = Client(self.tracking_uri)
        return _stored_result(client, self._stored_id("read"), self.config)

    def _stored_id(self, what: str) -> str:
        if self.sweep_id is None:
            raise InvalidInput(f"nothing to {what}: this sweep was loaded from a file; run() it")
        return self.sweep_id


def load(
    source: str | os.PathLike[str],
    *,
    overrides: Sequence[str] = (),
    tracking_uri: str | None = None,
    objective: Callable[..., Any] | None = None,
) -> Sweep:
    """A :class:`Sweep` from a sweep file (``.yaml``/``.yml``, or any existing file) or
    from the id of a sweep in the store.

    ``overrides`` are ``--set``-style ``KEY=VALUE`` changes. ``objective`` gives a stored
    sweep the function it was run with when no other process can load it (one defined in
    a notebook: its reference is ``__main__:name``).
    """
    path = Path(source).expanduser()
    if path.suffix in _SWEEP_FILE_SUFFIXES or path.is_file():
        if objective is not None:
            raise InvalidInput("objective= is for a stored sweep; a sweep file names its own")
        config = load_sweep_config(path, overrides)
        return Sweep(config, tracking_uri=tracking_uri, overrides=tuple(overrides))
    client = Client(tracking_uri)
    sweep_id = str(source)
    try:
        parent = client.get_run(sweep_id)
    except NotFound:
        raise NotFound(
            f"{sweep_id!r} is neither a sweep file nor the id of a run in {client.tracking_uri}"
        ) from None
    if parent.data.tags.get(T.RUN_TYPE) != "sweep":
        raise InvalidInput(f"run {sweep_id!r} is not a sweep (it has no tunetrack.run_type=sweep)")
    config = load_stored_config(client, parent, overrides, objective=objective)
    return Sweep(config, sweep_id, client.tracking_uri, tuple(overrides))


def result(
    sweep_id: str,
    *,
    tracking_uri: str | None = None,
    objective: Callable[..., Any] | None = None,
) -> SweepResult:
    """The :class:`SweepResult` of a sweep in the store (``load(sweep_id).result()``)."""
    return load(sweep_id, tracking_uri=tracking_uri, objective=objective).result()


def _stored_result(client: Client, sweep_id: str, config: SweepConfig) -> SweepResult:
    """A SweepResult read from the sweep's runs: ``counts`` as its summary recorded them
    (none before it finished), ``results`` and ``stopped_because`` empty (they describe
    one invocation)."""
    from tunetrack.sweep.select import best_trial, trial_params

    parent = client.get_run(sweep_id)
    try:
        best = best_trial(client, sweep_id, constraints=config.select.constraints)
    except NotFound:
        best = None
    retrains = client.search_runs(
        [parent.info.experiment_id],
        f"attributes.parent_run_id = '{sweep_id}' and tags.`{T.RUN_TYPE}` = 'retrain'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    counts = {
        key.removeprefix("trials_"): int(value)
        for key, value in parent.data.metrics.items()
        if key.startswith("trials_")
    }
    return SweepResult(
        sweep_id=sweep_id,
        experiment_id=parent.info.experiment_id,
        stopped_because="",
        counts=counts,
        best_run_id=None if best is None else best.info.run_id,
        best_value=None if best is None else best.data.metrics[config.primary_metric.name],
        best_params={} if best is None else trial_params(best),
        retrain_run_id=retrains[0].info.run_id if retrains else None,
        tracking_uri=client.tracking_uri,
        config=config,
    )
