"""Define-by-run on the trial: ``suggest_*`` values come from the sweep's optuna study (so
its sampler learns them, in the orchestrator's process or through the journal from
another), are recorded in the trial's run, and are given back when the trial is retrained;
pruning is recognised by exception type."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import optuna
import pytest

from tunetrack.errors import InvalidInput
from tunetrack.sweep import tags as T
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.space import Float, Int, SearchSpace
from tunetrack.sweep.strategies import TrialHandle, make_strategy
from tunetrack.sweep.trial import Trial, TrialPruned, is_pruned
from tunetrack.sweep.worker import InProcessPruner
from tunetrack.tracking.client import Client

SCORE = (Goal("score", "maximize"),)


def trial_for(client: Client, number: int, suggester: object, **kwargs: object) -> Trial:
    experiment = client.get_experiment_by_name("e") or client.get_experiment(
        client.create_experiment("e")
    )
    run = client.create_run(experiment.experiment_id)
    return Trial(
        number=number,
        params=kwargs.pop("params", {}),
        run_id=run.info.run_id,
        sweep_id="s",
        metric="score",
        client=client,
        suggester=suggester,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_suggested_params_go_through_the_study_so_tpe_learns_them(tracking_uri: str) -> None:
    client = Client(tracking_uri)
    strategy = make_strategy("tpe", SearchSpace(), SCORE, seed=0)
    xs = []
    for _ in range(30):
        proposal = strategy.ask()
        assert proposal is not None
        assert proposal.params == {}
        trial = trial_for(client, proposal.number, InProcessPruner(strategy, proposal.number))
        x = trial.suggest_float("x", 0.0, 1.0)
        strategy.tell(proposal.number, [-((x - 0.3) ** 2)])
        xs.append(x)
        run = client.get_run(trial.run_id)
        assert run.data.params == {"x": str(x)}
        assert json.loads(run.data.tags[T.TRIAL_PARAMS]) == {"x": x}
    assert [t.params for t in strategy.study.trials] == [{"x": x} for x in xs]
    # the first 10 are TPE's random start-up trials; then it samples where x scored well
    distances = [abs(x - 0.3) for x in xs]
    assert statistics.mean(distances[20:]) < statistics.mean(distances[:10]) / 2


def test_a_worker_in_another_process_suggests_through_the_journal(
    tracking_uri: str, tmp_path: Path
) -> None:
    client = Client(tracking_uri)
    strategy = make_strategy(
        "tpe", SearchSpace(), SCORE, seed=3, storage=f"journal:{tmp_path}/j.log", study_name="s"
    )
    assert strategy.storage_url is not None
    values = []
    for _ in range(3):
        proposal = strategy.ask()
        assert proposal is not None
        handle = TrialHandle(strategy.storage_url, "s", proposal.number)
        trial = trial_for(client, proposal.number, handle)
        values.append(trial.suggest_int("depth", 1, 1000))
        strategy.tell(proposal.number, [1.0])
    # the orchestrator's study holds what the workers drew, with its distribution
    assert [t.params for t in strategy.study.trials] == [{"depth": v} for v in values]
    assert strategy.study.trials[0].distributions["depth"] == optuna.distributions.IntDistribution(
        1, 1000
    )
    assert len(set(values)) == 3  # each worker's sampler is seeded apart


def test_replayed_trials_keep_their_define_by_run_params() -> None:
    space = SearchSpace([("k", Int(0, 3))])
    strategy = make_strategy("tpe", space, SCORE, seed=1)
    suggested = SearchSpace([("lr", Float(1e-4, 0.1, log=True))])
    strategy.add_finished({"k": 2, "lr": 0.01}, [0.5], suggested=suggested)
    (replayed,) = strategy.study.trials
    assert replayed.params == {"k": 2, "lr": 0.01}
    with pytest.raises(InvalidInput, match="not in the space"):
        strategy.add_finished({"k": 2, "lr": 0.01}, [0.5])  # lr without its distribution


def test_retrain_gives_back_recorded_values_and_cannot_draw_new_ones(tracking_uri: str) -> None:
    client = Client(tracking_uri)
    trial = trial_for(client, 0, None, params={"lr": 0.01}, mode="retrain")
    assert trial.suggest_float("lr", 1e-4, 0.1, log=True) == 0.01
    with pytest.raises(InvalidInput, match="no value for 'depth'"):
        trial.suggest_int("depth", 1, 8)


def test_a_bad_range_names_the_parameter(tracking_uri: str) -> None:
    strategy = make_strategy("random", SearchSpace(), SCORE, seed=1)
    proposal = strategy.ask()
    assert proposal is not None
    trial = trial_for(Client(tracking_uri), 0, InProcessPruner(strategy, proposal.number))
    with pytest.raises(InvalidInput, match=r"suggest_\*\('lr'\).*must be greater than"):
        trial.suggest_float("lr", 0.1, 0.01)


def test_user_attrs_are_tags_and_tunetrack_names_are_reserved(tracking_uri: str) -> None:
    client = Client(tracking_uri)
    trial = trial_for(client, 0, None)
    trial.set_user_attr("note", "as is")
    trial.set_user_attr("shape", [3, 4])
    assert trial.user_attrs == {"note": "as is", "shape": [3, 4]}
    tags = client.get_run(trial.run_id).data.tags
    assert (tags["note"], tags["shape"]) == ("as is", "[3, 4]")
    with pytest.raises(InvalidInput, match="reserved"):
        trial.set_user_attr(T.TRIAL_NUMBER, 1)


def test_pruning_is_recognised_by_type() -> None:
    class Enough(optuna.TrialPruned):
        pass

    class LooksLike(Exception):
        pass

    LooksLike.__name__ = "TrialPruned"
    assert is_pruned(optuna.TrialPruned())
    assert is_pruned(Enough())
    assert is_pruned(TrialPruned())
    assert not is_pruned(LooksLike())


def test_a_trial_run_again_gets_its_define_by_run_values_back(tracking_uri: str) -> None:
    """A trial whose worker was lost runs again with the params it had: the declared ones
    are proposed again, the suggested ones come back from trial.suggest_*."""
    strategy = make_strategy("tpe", SearchSpace([("k", Int(0, 3))]), SCORE, seed=1)
    proposal = strategy.ask(again={"k": 2, "lr": 0.01})
    assert proposal is not None
    assert proposal.params == {"k": 2}
    pruner = InProcessPruner(strategy, proposal.number)
    trial = trial_for(Client(tracking_uri), proposal.number, pruner, params=proposal.params)
    assert trial.suggest_float("lr", 1e-4, 0.1, log=True) == 0.01
    assert trial.params == {"k": 2, "lr": 0.01}
