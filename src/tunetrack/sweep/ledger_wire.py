"""A sweep ledger's optuna records as JSON, for a ledger served by a tunetrack server.

A served ledger holds one study per sweep, so a trial is named by its number alone: on the
client side a trial's id *is* its number (:class:`~tunetrack.sweep.ledger_client.ServedLedger`),
and the server finds the trial's own id from the number within the sweep's study. Params
travel in optuna's internal representation (floats) beside their distributions as optuna's
JSON; times as ISO 8601; states and directions as their enum values.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def encode_trial(trial: FrozenTrial) -> dict[str, Any]:
    """``trial`` as JSON-able data (its id left out: the number names it)."""
    from optuna.distributions import distribution_to_json

    return {
        "number": trial.number,
        "state": trial.state.value,
        "values": trial.values,
        "datetime_start": _time(trial.datetime_start),
        "datetime_complete": _time(trial.datetime_complete),
        "params": {
            name: trial.distributions[name].to_internal_repr(value)
            for name, value in trial.params.items()
        },
        "distributions": {
            name: distribution_to_json(dist) for name, dist in trial.distributions.items()
        },
        "user_attrs": trial.user_attrs,
        "system_attrs": trial.system_attrs,
        "intermediate_values": [[step, value] for step, value in trial.intermediate_values.items()],
    }


def decode_trial(data: dict[str, Any]) -> FrozenTrial:
    """The FrozenTrial :func:`encode_trial` made, its id set to its number."""
    from optuna.distributions import json_to_distribution
    from optuna.trial import FrozenTrial, TrialState

    distributions = {
        name: json_to_distribution(text) for name, text in data["distributions"].items()
    }
    return FrozenTrial(
        number=data["number"],
        state=TrialState(data["state"]),
        value=None,
        values=data["values"],
        datetime_start=_parse_time(data["datetime_start"]),
        datetime_complete=_parse_time(data["datetime_complete"]),
        params={
            name: distributions[name].to_external_repr(value)
            for name, value in data["params"].items()
        },
        distributions=distributions,
        user_attrs=data["user_attrs"],
        system_attrs=data["system_attrs"],
        intermediate_values={int(step): value for step, value in data["intermediate_values"]},
        trial_id=data["number"],
    )


#: What a served ledger's URL starts with (``ledger+<server URL>?sweep=<parent run id>``).
SERVED_PREFIX = "ledger+"


def is_served(url: str) -> bool:
    """Whether an optuna storage URL names a ledger served by a tunetrack server."""
    return url.startswith(SERVED_PREFIX)


def study_name(sweep_id: str) -> str:
    """The name of the optuna study of the sweep whose parent run is ``sweep_id``."""
    return f"sweep-{sweep_id}"


def trial_state(value: int) -> TrialState:
    """A trial state from its enum value."""
    from optuna.trial import TrialState

    return TrialState(value)


def states(values: list[int] | None) -> tuple[TrialState, ...] | None:
    """Trial states from their enum values (None: any state)."""
    from optuna.trial import TrialState

    return None if values is None else tuple(TrialState(v) for v in values)


def directions(values: list[int]) -> list[StudyDirection]:
    """Study directions from their enum values."""
    from optuna.study import StudyDirection

    return [StudyDirection(v) for v in values]
