"""``/api/ledger/call``: sweep ledgers served to workers that reach only the server.

A sweep whose store is a tunetrack server and whose trials run on other machines keeps its
optuna study (what workers prune and draw define-by-run values through) on the server:
:class:`~tunetrack.sweep.ledger_client.ServedLedger` sends each optuna storage operation
here. A request names the sweep's parent run, so it needs EDIT on that run's experiment
under ``--auth``, and it reaches that sweep's study only (``sweep-<run_id>``), its trials by
number. The studies live where :func:`tunetrack.sweep.ledger.served_storage` puts them for
the server's backend store. Answers are ``{"result": ...}`` with non-finite floats as the
bare tokens ``NaN``/``Infinity`` (attribute values are free JSON, so strings would be
ambiguous); optuna's refusals are errors: an unknown study or trial 404, a duplicate study
or a finished trial 409, a bad value 400.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic_core
from fastapi import APIRouter, Request, Response

from tunetrack._validation import validate_text
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.server.api import schemas as s
from tunetrack.sweep import ledger_wire as wire

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from tunetrack.store.sql.store import SqlStore

router = APIRouter(prefix="/api", tags=["ledger"])
_T = TypeVar("_T")


class LedgerHost:
    """The server's optuna storage for served ledgers, and each sweep's study found in it.

    Study ids and trial ids are remembered; a study that another server process deleted and
    made again (a resumed sweep) is looked up afresh when its remembered id fails."""

    def __init__(self, store: SqlStore, remembered: int = 100_000) -> None:
        self._store = store
        self._remembered = remembered  # ids kept before they are all forgotten
        self._lock = threading.Lock()
        self._storage: BaseStorage | None = None
        self._runs: set[str] = set()
        self._study_ids: dict[str, int] = {}
        self._trial_ids: dict[tuple[int, int], int] = {}

    def storage(self) -> BaseStorage:
        """The optuna storage, opened on first use."""
        with self._lock:
            if self._storage is None:
                from tunetrack.sweep.ledger import served_storage

                self._storage = served_storage(self._store.db_uri)
            return self._storage

    def call(self, body: s.LedgerCall) -> Any:
        """Carry out ``body`` on its sweep's study; optuna's refusals as tunetrack errors."""
        from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError

        if len(self._runs) + len(self._trial_ids) > self._remembered:
            self._runs.clear()
            self._study_ids.clear()
            self._trial_ids.clear()
        for field in ("study_name", "key", "param_name", "distribution"):
            if (text := getattr(body, field)) is not None:
                validate_text(text, f"{body.method}: {field}")  # stored as it is
        if body.run_id not in self._runs:
            self._store.get_run(body.run_id)  # NotFound for a run that is not there
            self._runs.add(body.run_id)
        try:
            try:
                return self._carry_out(body)
            except KeyError:
                if self._study_ids.pop(body.run_id, None) is None:
                    raise
                return self._carry_out(body)  # the study was made again elsewhere
        except KeyError as exc:
            raise NotFound(str(exc.args[0]) if exc.args else "no such study or trial") from None
        except (DuplicatedStudyError, UpdateFinishedTrialError) as exc:
            raise Conflict(str(exc)) from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def _study_id(self, run_id: str) -> int:
        study_id = self._study_ids.get(run_id)
        if study_id is None:
            study_id = self.storage().get_study_id_from_name(wire.study_name(run_id))
            self._study_ids[run_id] = study_id
        return study_id

    def _trial_id(self, run_id: str, number: int | None) -> int:
        study_id, number = self._study_id(run_id), _needed(number, "number")
        trial_id = self._trial_ids.get((study_id, number))
        if trial_id is None:
            storage = self.storage()
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
            self._trial_ids[study_id, number] = trial_id
        return trial_id

    def _carry_out(self, body: s.LedgerCall) -> Any:
        storage, run_id = self.storage(), body.run_id
        study = self._study_id
        trial = self._trial_id
        operations: dict[str, Callable[[], Any]] = {
            "create_new_study": lambda: self._create_study(body),
            "delete_study": lambda: self._delete_study(run_id),
            "set_study_user_attr": lambda: storage.set_study_user_attr(
                study(run_id), _needed(body.key, "key"), body.value
            ),
            "set_study_system_attr": lambda: storage.set_study_system_attr(
                study(run_id), _needed(body.key, "key"), body.value
            ),
            "get_study_id_from_name": lambda: study(run_id),
            "get_study_directions": lambda: [
                d.value for d in storage.get_study_directions(study(run_id))
            ],
            "get_study_user_attrs": lambda: storage.get_study_user_attrs(study(run_id)),
            "get_study_system_attrs": lambda: storage.get_study_system_attrs(study(run_id)),
            "create_new_trial": lambda: self._create_trial(body),
            "set_trial_param": lambda: self._set_param(body),
            "get_trial_id_from_study_id_trial_number": lambda: self._number(body),
            "set_trial_state_values": lambda: storage.set_trial_state_values(
                trial(run_id, body.number),
                wire.trial_state(_needed(body.state, "state")),
                body.values,
            ),
            "set_trial_intermediate_value": lambda: storage.set_trial_intermediate_value(
                trial(run_id, body.number),
                _needed(body.step, "step"),
                _needed(body.intermediate_value, "intermediate_value"),
            ),
            "set_trial_user_attr": lambda: storage.set_trial_user_attr(
                trial(run_id, body.number), _needed(body.key, "key"), body.value
            ),
            "set_trial_system_attr": lambda: storage.set_trial_system_attr(
                trial(run_id, body.number), _needed(body.key, "key"), body.value
            ),
            "get_trial": lambda: wire.encode_trial(storage.get_trial(trial(run_id, body.number))),
            "get_all_trials": lambda: [
                wire.encode_trial(t)
                for t in storage.get_all_trials(
                    study(run_id), deepcopy=False, states=wire.states(body.states)
                )
            ],
        }
        return operations[body.method]()

    def _create_study(self, body: s.LedgerCall) -> int:
        name = wire.study_name(body.run_id)
        if body.study_name != name:
            raise InvalidInput(
                f"a served ledger holds one study per sweep: run {body.run_id}'s is {name!r}, "
                f"not {body.study_name!r}"
            )
        directions = wire.directions(_needed(body.directions, "directions"))
        study_id = self.storage().create_new_study(directions, name)
        self._study_ids[body.run_id] = study_id
        return study_id

    def _delete_study(self, run_id: str) -> None:
        study_id = self._study_id(run_id)
        self._study_ids.pop(run_id, None)
        self.storage().delete_study(study_id)

    def _create_trial(self, body: s.LedgerCall) -> int:
        storage, study_id = self.storage(), self._study_id(body.run_id)
        template = None
        if body.template is not None:
            try:
                template = wire.decode_trial(body.template)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InvalidInput(
                    f"template is not a trial: {type(exc).__name__}: {exc}"
                ) from None
        trial_id = storage.create_new_trial(study_id, template)
        number = storage.get_trial_number_from_id(trial_id)
        self._trial_ids[study_id, number] = trial_id
        return number

    def _number(self, body: s.LedgerCall) -> int:
        """The trial's number (its id for the client), once it is known to exist."""
        self._trial_id(body.run_id, body.number)
        return _needed(body.number, "number")

    def _set_param(self, body: s.LedgerCall) -> None:
        from optuna.distributions import json_to_distribution

        distribution = json_to_distribution(_needed(body.distribution, "distribution"))
        self.storage().set_trial_param(
            self._trial_id(body.run_id, body.number),
            _needed(body.param_name, "param_name"),
            _needed(body.param_value, "param_value"),
            distribution,
        )


def _needed(value: _T | None, field: str) -> _T:
    if value is None:
        raise InvalidInput(f"this ledger method needs {field}")
    return value


@router.post("/ledger/call", response_model=s.LedgerAnswer)
def call(body: s.LedgerCall, request: Request) -> Response:
    """One optuna storage operation on a sweep's study (see the module docstring)."""
    result = request.app.state.ledger.call(body)
    content = pydantic_core.to_json({"result": result}, inf_nan_mode="constants")
    return Response(content, media_type="application/json")
