"""Retrain a sweep's best trial: rerun its objective with ``trial.mode == "retrain"``."""

from __future__ import annotations

from collections.abc import Sequence

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import TunetrackError
from tunetrack.sweep import tags as T
from tunetrack.sweep.runner import load_stored_config
from tunetrack.sweep.select import best_trial, sweep_goals, trial_params
from tunetrack.sweep.worker import TrialTask, execute_trial
from tunetrack.tracking.client import Client


def retrain(
    sweep_id: str,
    *,
    tracking_uri: str | None = None,
    constraints: Sequence[str] | None = None,
) -> Run:
    """Rerun the best trial's params in a new run nested under the sweep; return that run.

    ``constraints`` default to the sweep file's ``select.constraints``. The new run is
    tagged with its source trial; it FAILS (and this raises) if the objective fails.
    """
    client = Client(tracking_uri)
    parent = client.get_run(sweep_id)
    config = load_stored_config(client, parent)
    if constraints is None:
        constraints = config.select.constraints
    source = best_trial(client, sweep_id, constraints=constraints)
    number = int(source.data.tags[T.TRIAL_NUMBER])
    run = client.create_run(
        parent.info.experiment_id,
        run_name=f"{config.name}-retrain",
        parent_run_id=sweep_id,
        tags={
            T.RUN_TYPE: "retrain",
            T.SWEEP_ID: sweep_id,
            T.RETRAIN_SOURCE: source.info.run_id,
            T.TRIAL_NUMBER: str(number),
        },
    )
    result = execute_trial(
        TrialTask(
            tracking_uri=client.tracking_uri,
            run=run,
            sweep_id=sweep_id,
            number=number,
            params=trial_params(source),
            objective=config.objective,
            goals=tuple(sweep_goals(parent)),
            mode="retrain",
        )
    )
    final = client.get_run(run.info.run_id)
    if final.info.status != RunStatus.FINISHED:
        raise TunetrackError(f"retraining failed in run {run.info.run_id}: {result.error}")
    return final
