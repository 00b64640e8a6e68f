"""Pick a sweep's best trial (under constraints), and the model a run holds for retrain."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tunetrack.autologging._common import MODEL_TAG as AUTOLOG_MODEL_TAG
from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.sweep import tags as T
from tunetrack.sweep.goals import Goal
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


_FLAVOR_TAG = re.compile(r"tunetrack\.model\.(?P<path>.+)\.flavor")
NAMED = "named by the objective"


@dataclass(frozen=True)
class ModelChoice:
    """The model of a run that retrain registers, and why that one."""

    run_id: str
    path: str
    reason: str
    candidates: tuple[str, ...]  # every model artifact the run holds

    @property
    def uri(self) -> str:
        """``runs:/<run_id>/<path>``."""
        return f"runs:/{self.run_id}/{self.path}"

    @property
    def ambiguous(self) -> bool:
        """True when the run holds several models and the objective named none of them."""
        return len(self.candidates) > 1 and self.reason != NAMED


def run_model(run: Run) -> ModelChoice:
    """The model that produced ``run``'s result: the one the objective named
    (``trial.log_model`` or returned), else the last one autolog saved (the last fitted
    estimator), else the run's only model, else the one at ``model``."""
    tags = run.data.tags
    found = tuple(sorted(m["path"] for k in tags if (m := _FLAVOR_TAG.fullmatch(k))))
    rules = (
        (tags.get(T.TRIAL_MODEL), NAMED),
        (tags.get(AUTOLOG_MODEL_TAG), "the last model autolog saved"),
        (found[0] if len(found) == 1 else None, "the run's only model"),
        ("model", "the one logged as 'model'"),
    )
    for path, reason in rules:
        if path in found:
            return ModelChoice(run.info.run_id, path, reason, found)
    raise NotFound(
        f"run {run.info.run_id} logged "
        + ("no model" if not found else f"several models ({', '.join(found)})")
        + ": name one with trial.log_model(model) or turn on autolog"
    )
