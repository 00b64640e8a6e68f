"""Pick a sweep's best trial (under constraints) and retrain it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.sweep import tags as T
from tunetrack.sweep.strategies import Goal
from tunetrack.tracking.client import Client


def sweep_goals(parent: Run) -> list[Goal]:
    """The metrics a sweep optimised, as stored on its parent run."""
    raw = parent.data.tags.get(T.SWEEP_GOALS)
    if parent.data.tags.get(T.RUN_TYPE) != "sweep" or raw is None:
        raise InvalidInput(f"run {parent.info.run_id!r} is not a sweep")
    return [Goal(name, direction) for name, direction in json.loads(raw)]


def best_trial(
    client: Client,
    sweep_id: str,
    *,
    constraints: Sequence[str] = (),
    goal: Goal | None = None,
) -> Run:
    """The finished trial with the best value of ``goal`` (default: the sweep's first metric)
    among those passing every constraint filter (the search language)."""
    parent = client.get_run(sweep_id)
    goal = goal or sweep_goals(parent)[0]
    key = f"metrics.`{goal.name}`"
    clauses = [
        f"attributes.parent_run_id = '{sweep_id}'",
        f"tags.`{T.RUN_TYPE}` = 'trial'",
        f"attributes.status = '{RunStatus.FINISHED.value}'",
        f"{key} >= -inf",  # has the metric (NaN never matches)
        *(f"({c})" for c in constraints),
    ]
    order = "DESC" if goal.direction == "maximize" else "ASC"
    runs = client.search_runs(
        [parent.info.experiment_id], " and ".join(clauses), order_by=[f"{key} {order}"],
        max_results=1,
    )  # fmt: skip
    if not runs:
        why = f" satisfying {' and '.join(constraints)}" if constraints else ""
        raise NotFound(f"sweep {sweep_id} has no finished trial with {goal.name!r}{why}")
    return runs[0]


def trial_params(run: Run) -> dict:
    """A trial's params with their Python types (as proposed, not stringified)."""
    return json.loads(run.data.tags[T.TRIAL_PARAMS])
