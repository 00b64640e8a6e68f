"""A sweep's optuna study kept by a tunetrack server: an optuna storage over HTTP.

:class:`ServedLedger` sends each of optuna's storage operations to the server's
``/api/ledger/call`` (:mod:`tunetrack.server.api.ledger`), so workers that reach only the
server (no database password, no shared files) prune and draw define-by-run values through
the same study as the orchestrator. It serves the one study of one sweep, whose trials it
names by number (a trial's id here is its number). Its URL is the server's prefixed with
``ledger+`` and followed by ``?sweep=<parent run id>`` (:func:`served_ledger_url`).
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Any

from optuna.storages import BaseStorage

from tunetrack.errors import Conflict, InvalidInput, NotFound, TunetrackError
from tunetrack.store._http import DoneBefore, HttpSession
from tunetrack.sweep import ledger_wire as wire

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import StudyDirection
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial, TrialState

_SWEEP = "?sweep="
_PATH = "/api/ledger/call"


def served_ledger_url(server_url: str, sweep_id: str) -> str:
    """The URL of the ledger of sweep ``sweep_id`` on the server at ``server_url``."""
    return f"{wire.SERVED_PREFIX}{server_url.rstrip('/')}{_SWEEP}{sweep_id}"


class ServedLedger(BaseStorage):
    """The optuna storage at a :func:`served_ledger_url`."""

    def __init__(self, url: str) -> None:
        server, sep, sweep_id = url.removeprefix(wire.SERVED_PREFIX).rpartition(_SWEEP)
        if not wire.is_served(url) or not sep or not sweep_id:
            raise InvalidInput(f"not a served ledger URL: {url!r} (ledger+<server>?sweep=<id>)")
        self._session = HttpSession(server)
        self._sweep_id = sweep_id
        self._name = wire.study_name(sweep_id)

    def _call(
        self,
        method: str,
        *,
        idempotent: bool = True,
        done_if: type[TunetrackError] | None = None,
        **fields: Any,
    ) -> Any:
        """The operation's result (``idempotent`` and ``done_if`` as in HttpSession)."""
        body = {"run_id": self._sweep_id, "method": method, **fields}
        try:
            raw = self._session.call(
                "POST", _PATH, json_body=body, idempotent=idempotent, done_if=done_if
            )
        except NotFound as exc:
            raise KeyError(str(exc)) from None
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return json.loads(raw)["result"]

    # -- studies ----------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        from optuna.exceptions import DuplicatedStudyError

        values = [d.value for d in directions]
        try:
            study_id = self._call(
                "create_new_study",
                idempotent=False,
                done_if=Conflict,
                study_name=study_name,
                directions=values,
            )
        except DoneBefore:  # the lost first attempt made it
            return self.get_study_id_from_name(self._name)
        except Conflict as exc:
            raise DuplicatedStudyError(str(exc)) from None
        return int(study_id)

    def delete_study(self, study_id: int) -> None:
        self._call("delete_study")

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._call("set_study_user_attr", key=key, value=value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._call("set_study_system_attr", key=key, value=value)

    def get_study_id_from_name(self, study_name: str) -> int:
        if study_name != self._name:
            raise KeyError(f"this served ledger holds study {self._name!r} only")
        return int(self._call("get_study_id_from_name"))

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return wire.directions(self._call("get_study_directions"))

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._call("get_study_user_attrs"))

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._call("get_study_system_attrs"))

    def get_all_studies(self) -> list[FrozenStudy]:
        from optuna.study._frozen import FrozenStudy  # optuna exports it from nowhere else

        try:
            study_id = self.get_study_id_from_name(self._name)
        except KeyError:
            return []
        return [
            FrozenStudy(
                study_name=self._name,
                direction=None,
                directions=self.get_study_directions(study_id),
                user_attrs=self.get_study_user_attrs(study_id),
                system_attrs=self.get_study_system_attrs(study_id),
                study_id=study_id,
            )
        ]

    # -- trials (a trial's id is its number) ------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        template = None if template_trial is None else wire.encode_trial(template_trial)
        return int(self._call("create_new_trial", idempotent=False, template=template))

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        from optuna.distributions import distribution_to_json

        self._updating(
            "set_trial_param",
            number=trial_id,
            param_name=param_name,
            param_value=param_value_internal,
            distribution=distribution_to_json(distribution),
        )

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return int(self._call("get_trial_id_from_study_id_trial_number", number=trial_number))

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return trial_id

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        fields = {"number": trial_id, "state": state.value, "values": values}
        try:
            return bool(self._updating("set_trial_state_values", done_if=Conflict, **fields))
        except DoneBefore:  # the lost first attempt finished the trial
            return True

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        self._updating(
            "set_trial_intermediate_value",
            number=trial_id,
            step=step,
            intermediate_value=intermediate_value,
        )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._updating("set_trial_user_attr", number=trial_id, key=key, value=value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._updating("set_trial_system_attr", number=trial_id, key=key, value=value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return wire.decode_trial(self._call("get_trial", number=trial_id))

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        from optuna.trial import TrialState

        wanted = None if states is None else [s.value for s in TrialState if s in states]
        return [wire.decode_trial(t) for t in self._call("get_all_trials", states=wanted)]

    def _updating(
        self, method: str, *, done_if: type[TunetrackError] | None = None, **fields: Any
    ) -> Any:
        """A write to a trial: a finished trial's refusal as optuna raises it (repeating a
        write is harmless, but for the trial's end: ``done_if`` recognises that one)."""
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            return self._call(method, idempotent=done_if is None, done_if=done_if, **fields)
        except DoneBefore:
            raise
        except Conflict as exc:
            raise UpdateFinishedTrialError(str(exc)) from None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()
