"""Retrain a sweep's best trial: rerun its objective with ``trial.mode == "retrain"``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput, TunetrackError
from tunetrack.sweep import tags as T
from tunetrack.sweep.objective import check_loadable
from tunetrack.sweep.select import ModelChoice, best_trial, run_model, sweep_goals, trial_params
from tunetrack.sweep.stored import load_stored_config, sweep_context_tags
from tunetrack.sweep.worker import TrialTask, autolog_restored, execute_trial
from tunetrack.tracking.client import Client

if TYPE_CHECKING:
    from tunetrack.sweep.config import SweepConfig


def retrain(
    sweep_id: str,
    *,
    tracking_uri: str | None = None,
    constraints: Sequence[str] | None = None,
    register_as: str | None = None,
    alias: str | None = None,
    config: SweepConfig | None = None,
) -> Run:
    """Rerun the best trial's params in a new run nested under the sweep; return that run.

    ``constraints``, ``register_as`` and ``alias`` default to the sweep file's
    ``select.constraints`` and ``retrain`` section. The new run is tagged with its source
    trial; it FAILS (and this raises) if the objective fails. With ``register_as``, the
    model behind its result (:func:`~tunetrack.sweep.select.run_model`) becomes the next
    version of that registered model (and gets ``alias``). ``config`` is the sweep's
    (default: the one stored with it); a sweep run from Python passes its own, which holds
    the objective function.
    """
    client = Client(tracking_uri)
    parent = client.get_run(sweep_id)
    config = config or load_stored_config(client, parent)
    check_loadable(config.objective)
    if constraints is None:
        constraints = config.select.constraints
    register_as = register_as or config.retrain.register_as
    alias = alias or config.retrain.alias
    if alias is not None and register_as is None:
        raise InvalidInput("an alias needs a registered model name (register_as / --register)")
    source = best_trial(client, sweep_id, constraints=constraints)
    number = int(source.data.tags[T.TRIAL_NUMBER])
    params = trial_params(source)
    run = client.create_run(
        parent.info.experiment_id,
        run_name=f"{config.name}-retrain",
        parent_run_id=sweep_id,
        params=params,
        tags={
            **sweep_context_tags(config, parent),
            T.RUN_TYPE: "retrain",
            T.SWEEP_ID: sweep_id,
            T.RETRAIN_SOURCE: source.info.run_id,
            T.TRIAL_NUMBER: str(number),
        },
    )
    with autolog_restored():
        result = execute_trial(
            TrialTask(
                tracking_uri=client.tracking_uri,
                run=run,
                sweep_id=sweep_id,
                number=number,
                params=params,
                objective=config.objective,
                goals=tuple(sweep_goals(parent)),
                mode="retrain",
                autolog=config.autolog,
            )
        )
    final = client.get_run(run.info.run_id)
    if final.info.status != RunStatus.FINISHED:
        raise TunetrackError(f"retraining failed in run {run.info.run_id}: {result.error}")
    if register_as is not None:
        version = client.register_model(_chosen_model(final).uri, register_as)
        client.set_tag(run.info.run_id, T.REGISTERED_VERSION, f"{register_as}/{version.version}")
        if alias is not None:
            client.set_registered_model_alias(register_as, alias, version.version)
        final = client.get_run(run.info.run_id)
    return final


def _chosen_model(run: Run) -> ModelChoice:
    """The run's model to register; a warning says which one when there was a choice."""
    choice = run_model(run)
    if choice.ambiguous:
        warnings.warn(
            f"retrained run {run.info.run_id} logged several models "
            f"({', '.join(choice.candidates)}): registering {choice.path!r} ({choice.reason}); "
            "name the model with trial.log_model(model) or return it as result['model']",
            UserWarning,
            stacklevel=3,
        )
    return choice
