"""A sweep's optuna study served by a ``tunetrack server`` (``/api/ledger/call``) behaves as
optuna's own storages do: a real server process over SQLite or PostgreSQL, optuna driving
:class:`~tunetrack.sweep.ledger_client.ServedLedger` as it drives any storage."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import optuna
import pytest

from tunetrack.server.api.ledger import LedgerHost
from tunetrack.server.api.schemas import LedgerCall
from tunetrack.store.sql.store import SqlStore
from tunetrack.sweep.ledger_client import ServedLedger, served_ledger_url
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer, TrackingServer

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tracking_server: StartServer) -> TrackingServer:
    if request.param == "sqlite":
        return tracking_server()
    return tracking_server("--backend-store-uri", request.getfixturevalue("fresh_postgres_uri"))


def _sweep_run(url: str) -> str:
    """A parent run to hang a study on (as a sweep's)."""
    client = Client(url)
    experiment = client.get_experiment_by_name("ledgers")
    eid = experiment.experiment_id if experiment else client.create_experiment("ledgers")
    run_id = client.create_run(eid).info.run_id
    client.close()
    return run_id


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    kind = trial.suggest_categorical("kind", ["square", "abs"])
    depth = trial.suggest_int("depth", 1, 8, log=True)
    score = (x * x if kind == "square" else abs(x)) + depth / 10
    for step in range(4):
        trial.report(score + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    trial.set_user_attr("seen", {"depth": depth, "steps": [0, 1, 2, 3]})
    return score


def _record(study: optuna.Study) -> list[tuple[Any, ...]]:
    return [
        (t.number, t.state, t.params, t.values, t.intermediate_values, t.user_attrs)
        for t in study.trials
    ]


def _study(storage: optuna.storages.BaseStorage | None, name: str) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=optuna.samplers.TPESampler(seed=7, n_startup_trials=4),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )


def test_a_seeded_study_through_a_served_ledger_is_the_same_as_in_memory(
    server: TrackingServer,
) -> None:
    run_id = _sweep_run(server.url)
    ledger = ServedLedger(served_ledger_url(server.url, run_id))
    served = _study(ledger, f"sweep-{run_id}")
    served.enqueue_trial({"x": 0.5, "kind": "abs", "depth": 2})
    served.optimize(_objective, n_trials=14)
    local = _study(None, "local")
    local.enqueue_trial({"x": 0.5, "kind": "abs", "depth": 2})
    local.optimize(_objective, n_trials=14)

    assert _record(served) == _record(local)
    states = {t.state for t in served.trials}
    assert states == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    # a second client (a worker) finds the study, its trials and its best by name alone
    again = optuna.load_study(
        study_name=f"sweep-{run_id}", storage=ServedLedger(served_ledger_url(server.url, run_id))
    )
    assert _record(again) == _record(local)
    assert again.best_trial.number == local.best_trial.number
    ledger.close()


def test_non_finite_values_and_nested_attributes_travel_intact(server: TrackingServer) -> None:
    run_id = _sweep_run(server.url)
    study = optuna.create_study(
        storage=ServedLedger(served_ledger_url(server.url, run_id)), study_name=f"sweep-{run_id}"
    )
    trial = study.ask()
    trial.report(float("nan"), 0)
    trial.report(float("inf"), 1)
    trial.set_user_attr("nested", {"a": [1, None, "NaN"], "b": {"c": True}})
    study.set_user_attr("pruner", {"type": "median", "min_steps": 2})
    study.tell(trial, float("-inf"))

    (stored,) = optuna.load_study(
        study_name=f"sweep-{run_id}", storage=ServedLedger(served_ledger_url(server.url, run_id))
    ).trials
    assert math.isnan(stored.intermediate_values[0])
    assert stored.intermediate_values[1] == math.inf
    assert stored.values == [-math.inf]
    assert stored.user_attrs == {"nested": {"a": [1, None, "NaN"], "b": {"c": True}}}
    assert study.user_attrs == {"pruner": {"type": "median", "min_steps": 2}}


def test_a_served_ledger_reaches_its_own_sweeps_study_only(server: TrackingServer) -> None:
    first, second = _sweep_run(server.url), _sweep_run(server.url)
    mine = ServedLedger(served_ledger_url(server.url, first))
    with pytest.raises(ValueError, match=f"run {first}'s is 'sweep-{first}', not 'other'"):
        optuna.create_study(storage=mine, study_name="other")
    with pytest.raises(KeyError, match="holds study"):
        optuna.load_study(study_name=f"sweep-{second}", storage=mine)
    a = optuna.create_study(storage=mine, study_name=f"sweep-{first}")
    b = optuna.create_study(
        storage=ServedLedger(served_ledger_url(server.url, second)), study_name=f"sweep-{second}"
    )
    a.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    b.optimize(lambda t: t.suggest_float("y", 0, 1), n_trials=1)
    assert [set(t.params) for t in a.trials] == [{"x"}] * 3
    assert [set(t.params) for t in b.trials] == [{"y"}]
    # a run the server does not have has no ledger
    stranger = ServedLedger(served_ledger_url(server.url, "0" * 32))
    with pytest.raises(KeyError, match="0" * 32):
        optuna.create_study(storage=stranger, study_name=f"sweep-{'0' * 32}")


def test_a_finished_trial_refuses_writes_as_optuna_storages_do(server: TrackingServer) -> None:
    run_id = _sweep_run(server.url)
    study = optuna.create_study(
        storage=ServedLedger(served_ledger_url(server.url, run_id)), study_name=f"sweep-{run_id}"
    )
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        trial.report(2.0, 0)
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        optuna.create_study(
            storage=ServedLedger(served_ledger_url(server.url, run_id)),
            study_name=f"sweep-{run_id}",
        )


def test_a_study_made_again_by_another_server_process_is_found_afresh(tmp_path: Path) -> None:
    """Two server processes (two hosts over one store): one remembers the study's id, the
    other deletes the study and makes it again (a resumed sweep); the first goes on."""
    store = SqlStore(f"sqlite:///{tmp_path}/s.db")
    run_id = store.create_run(store.create_experiment("e"), start_time=1).info.run_id
    first, second = LedgerHost(store, remembered=2), LedgerHost(store)  # first forgets often

    def call(host: LedgerHost, method: str, **fields: Any) -> Any:
        return host.call(LedgerCall(run_id=run_id, method=method, **fields))  # type: ignore[arg-type]

    name = f"sweep-{run_id}"
    call(first, "create_new_study", study_name=name, directions=[1])
    assert call(first, "create_new_trial") == 0
    call(second, "delete_study")
    call(second, "create_new_study", study_name=name, directions=[2])
    assert call(first, "get_study_directions") == [2]
    assert call(first, "create_new_trial") == 0
    call(first, "set_trial_intermediate_value", number=0, step=3, intermediate_value=0.25)
    assert call(second, "get_trial", number=0)["intermediate_values"] == [[3, 0.25]]
    assert [call(first, "create_new_trial") for _ in range(4)] == [1, 2, 3, 4]
    assert len(call(second, "get_all_trials")) == 5
    assert (tmp_path / "s.db.ledger.log").is_file()  # the journal beside the SQLite file
    store.close()


def test_bad_calls_are_400s_naming_what_is_wrong(server: TrackingServer) -> None:
    """Nothing a client sends makes the server fail (500): a missing field, a template that
    is no trial, text the database cannot hold."""
    run_id = _sweep_run(server.url)
    post = functools.partial(httpx.post, f"{server.url}/api/ledger/call", timeout=30)
    made = post(json={"run_id": run_id, "method": "create_new_study",
                      "study_name": f"sweep-{run_id}", "directions": [1]})  # fmt: skip
    assert made.status_code == 200, made.text
    for body, says in [
        ({"method": "set_study_user_attr", "value": 1}, "needs key"),
        ({"method": "create_new_trial", "template": {"number": "x"}}, "template is not a trial"),
        ({"method": "set_study_user_attr", "key": "a\x00b", "value": 1}, "key contains a NUL"),
    ]:
        answer = post(json={"run_id": run_id, **body})
        assert answer.status_code == 400, answer.text
        assert says in answer.json()["message"]
