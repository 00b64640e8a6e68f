"""Search strategies: every method through one ask/tell interface, with optuna as the ledger."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from tunetrack.errors import ConfigError, Conflict, InvalidInput
from tunetrack.sweep.goals import METHODS, Goal, PrunerSpec
from tunetrack.sweep.proposers import Proposer
from tunetrack.sweep.space import SearchSpace, contains, grid_points, parse_space
from tunetrack.sweep.strategies import (
    Proposal,
    Strategy,
    TrialHandle,
    make_strategy,
)

MAX = [Goal("score", "maximize")]
MIN = [Goal("loss", "minimize")]

# Conditional space usable by every method (grid included: no continuous float).
SPACE = parse_space(
    {
        "n_estimators": {"distribution": "int", "min": 10, "max": 50, "step": 10},
        "max_depth": {"values": [3, 5, None]},
        "subsample": {"distribution": "q_uniform", "min": 0.5, "max": 1.0, "q": 0.25},
        "model": {
            "values": {
                "rf": {"min_samples_leaf": {"distribution": "int", "min": 1, "max": 3}},
                "xgb": {"learning_rate": [0.01, 0.1]},
                "linear": None,
            }
        },
        "seed": 7,
    }
)
# Continuous space for the sampling methods.
CONTINUOUS = parse_space(
    {
        "x": {"distribution": "uniform", "min": -2.0, "max": 2.0},
        "lr": {"distribution": "log_uniform", "min": 1e-4, "max": 1.0},
        "n": {"distribution": "int", "min": 1, "max": 100, "log": True},
        "opt": {
            "values": {
                "sgd": {"momentum": {"distribution": "uniform", "min": 0.0, "max": 0.99}},
                "adam": {"beta": {"distribution": "uniform", "min": 0.8, "max": 0.999}},
            }
        },
        "act": ["relu", "tanh", None],
    }
)

_MISSING = {
    method: [m for m in mods if importlib.util.find_spec(m) is None]
    for method, mods in {"cmaes": ["cmaes"], "gp": ["torch"]}.items()
}


def _method_param(method: str) -> Any:
    missing = _MISSING.get(method)
    reason = f"method {method} needs {', '.join(missing or ())}, which is not installed"
    marks = [pytest.mark.skip(reason=reason)] if missing else []
    return pytest.param(method, marks=marks)


ALL = [_method_param(m) for m in METHODS]
SINGLE = [_method_param(m) for m in METHODS if m != "nsga2"]


def _value(params: dict[str, Any]) -> float:
    """A deterministic objective of the params."""
    score = float(params.get("n_estimators", params.get("n", 0))) / 10
    score += {None: 0.5, 3: 0.1, 5: 0.3}.get(params.get("max_depth", 3), 0.0)
    score += float(params.get("subsample", params.get("x", 0.0)))
    score += {"rf": 1.0, "xgb": 2.0, "linear": 0.0, "sgd": 0.5, "adam": 0.25}[
        params.get("model", params.get("opt", "linear"))
    ]
    return score


def _ask(strategy: Strategy) -> Proposal:
    proposal = strategy.ask()
    assert proposal is not None
    return proposal


def _run(strategy: Strategy, n: int) -> list[Proposal]:
    proposals = []
    for _ in range(n):
        proposal = strategy.ask()
        if proposal is None:
            break
        proposals.append(proposal)
        values = [_value(proposal.params)] * len(strategy.goals)
        strategy.tell(proposal.number, values[0] if len(values) == 1 else values)
    return proposals


def _goals(method: str) -> list[Goal]:
    return [Goal("a", "maximize"), Goal("b", "minimize")] if method == "nsga2" else MAX


# ----------------------------------------------------------------------------- every method


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("space", [SPACE, CONTINUOUS], ids=["discrete", "continuous"])
def test_proposals_are_points_of_the_space(method: str, space: SearchSpace) -> None:
    if method == "grid" and space is CONTINUOUS:
        pytest.skip("grid needs a discrete space")
    strategy = make_strategy(method, space, _goals(method), seed=11)
    proposals = _run(strategy, 25)
    assert len(proposals) == 25
    branches = set()
    for proposal in proposals:
        params = proposal.params
        assert contains(space, params), params
        if space is SPACE:
            assert params["seed"] == 7
            assert type(params["n_estimators"]) is int
            assert type(params["subsample"]) is float
            assert ("min_samples_leaf" in params) == (params["model"] == "rf")
            assert ("learning_rate" in params) == (params["model"] == "xgb")
            branches.add(params["model"])
        else:
            assert type(params["n"]) is int
            assert type(params["x"]) is float
            assert ("momentum" in params) == (params["opt"] == "sgd")
            assert ("beta" in params) == (params["opt"] == "adam")
            branches.add(params["opt"])
    assert len(branches) >= 2
    assert [p.number for p in proposals] == list(range(25))
    trials = strategy.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 25
    assert [t.number for t in trials] == [p.number for p in proposals]


@pytest.mark.parametrize("method", ALL)
def test_same_seed_same_proposals(method: str) -> None:
    space = SPACE if method == "grid" else CONTINUOUS
    runs = [
        [p.params for p in _run(make_strategy(method, space, _goals(method), seed=3), 12)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len(runs[0]) == 12
    if method != "grid":  # a different seed gives different proposals
        other = [p.params for p in _run(make_strategy(method, space, _goals(method), seed=4), 8)]
        assert other != runs[0][:8]


@pytest.mark.parametrize("method", ALL)
def test_replayed_trials_enter_the_ledger(method: str) -> None:
    first = make_strategy(method, SPACE, _goals(method), seed=5)
    done = _run(first, 6)
    resumed = make_strategy(method, SPACE, _goals(method), seed=5)
    resumed.add_finished(done[0].params, None, "failed")
    for proposal in done[1:]:
        value = _value(proposal.params)
        resumed.add_finished(proposal.params, value if method != "nsga2" else [value, value])
    trials = resumed.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL] + [TrialState.COMPLETE] * 5
    assert [t.params for t in trials] == [t.params for t in first.study.trials]
    more = _run(resumed, 4)
    assert [p.number for p in more] == [6, 7, 8, 9]
    assert all(contains(SPACE, p.params) for p in more)
    if method == "grid":  # completed points are not proposed again; the failed one is retried
        replayed = [p.params for p in done[1:]]
        assert not any(p.params in replayed for p in more)
        assert more[0].params == done[0].params


# ----------------------------------------------------------------------------- grid


def test_grid_enumerates_the_product_then_stops() -> None:
    strategy = make_strategy("grid", SPACE, MAX)
    expected = list(grid_points(SPACE))
    assert strategy.total == len(expected) == 5 * 3 * 3 * (3 + 2 + 1)
    proposals = _run(strategy, 1000)
    assert [p.params for p in proposals] == expected
    assert strategy.ask() is None
    assert strategy.ask() is None
    assert len(strategy.study.trials) == len(expected)


def test_grid_refuses_continuous_spaces() -> None:
    with pytest.raises(ConfigError, match="grid search needs 'values' or a 'step'"):
        make_strategy("grid", CONTINUOUS, MAX)


def test_total_is_none_for_endless_methods() -> None:
    assert make_strategy("random", SPACE, MAX).total is None


# ----------------------------------------------------------------------------- goals


def test_nsga2_optimises_two_goals() -> None:
    space = parse_space(
        {
            "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
            "y": {"distribution": "uniform", "min": 0.0, "max": 1.0},
        }
    )
    goals = [Goal("accuracy", "maximize"), Goal("size", "minimize")]
    strategy = make_strategy("nsga2", space, goals, seed=1)
    assert strategy.study.directions == [
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MINIMIZE,
    ]
    for _ in range(60):
        proposal = _ask(strategy)
        x, y = proposal.params["x"], proposal.params["y"]
        strategy.tell(proposal.number, [x + y, x * x + y])
    front = strategy.study.best_trials
    assert 1 <= len(front) < 60
    assert all(len(t.values) == 2 for t in front)
    with pytest.raises(InvalidInput, match="needs 2 number"):
        strategy.tell(strategy.ask().number, 1.0)  # type: ignore[union-attr]


@pytest.mark.parametrize("method", [m for m in METHODS if m != "nsga2"])
def test_single_objective_methods_refuse_several_goals(method: str) -> None:
    with pytest.raises(ConfigError, match=f"method {method} optimises one metric; use nsga2"):
        make_strategy(method, SPACE, [Goal("a", "maximize"), Goal("b", "minimize")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bayes"}, "unknown method 'bayes'; valid: grid, random, tpe"),
        ({"goals": []}, "at least one goal"),
        ({"goals": [Goal("a", "maximize"), Goal("a", "minimize")]}, "listed twice"),
        ({"goals": [Goal("a", "up")]}, "direction must be maximize or minimize"),  # type: ignore[arg-type]
        ({"pruner": PrunerSpec("median", min_steps=-1)}, "min_steps must be an integer >= 0"),
        ({"pruner": PrunerSpec("hyperband", min_steps=0)}, "min_steps must be an integer >= 1"),
        ({"pruner": PrunerSpec("hyperband", min_steps=5, max_steps=5)}, "max_steps (5)"),
        ({"pruner": PrunerSpec("average")}, "unknown pruner 'average'"),  # type: ignore[arg-type]
        (
            {
                "method": "nsga2",
                "goals": [Goal("a", "maximize"), Goal("b", "minimize")],
                "pruner": PrunerSpec("median"),
            },
            "pruning) needs a single goal",
        ),
        ({"storage": "journal:"}, "journal storage needs a file"),
    ],
)
def test_make_strategy_errors(kwargs: dict[str, Any], message: str) -> None:
    args = {"method": "random", "space": SPACE, "goals": MAX, **kwargs}
    with pytest.raises(ConfigError) as info:
        make_strategy(args.pop("method"), args.pop("space"), args.pop("goals"), **args)
    assert message in str(info.value)


@pytest.mark.skipif(not _MISSING["gp"], reason="torch is installed")
def test_gp_without_torch_says_which_package() -> None:
    message = r"method 'gp' needs the 'torch' package.*pip install 'tunetrack\[gp\]'"
    with pytest.raises(ConfigError, match=message):
        make_strategy("gp", CONTINUOUS, MAX)


def test_sweep_run_with_gp_and_no_torch_says_how_to_install_it(
    tmp_path: Path, tracking_uri: str
) -> None:
    hide = tmp_path / "hide_torch"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    (tmp_path / "objective.py").write_text("def train(params):\n    return params['x']\n")
    (tmp_path / "gp.yaml").write_text(
        "objective: objective.py:train\n"
        "metric: {name: score, goal: maximize}\n"
        "method: gp\n"
        "parameters: {x: {distribution: uniform, min: 0.0, max: 1.0}}\n"
    )
    tunetrack = str(Path(sys.executable).parent / "tunetrack")
    pythonpath = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [tunetrack, "sweep", "run", "gp.yaml", "--tracking-uri", tracking_uri, "--no-progress"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: method 'gp' needs the 'torch' package, which is not installed "
        "(pip install 'tunetrack[gp]')"
    ]


@pytest.mark.parametrize(
    ("method", "module"),
    [
        ("cmaes", "cmaes"),
        ("gp", "torch"),
        ("hyperopt-tpe", "hyperopt"),
        ("hyperopt-random", "hyperopt"),
    ],
)
def test_missing_packages_are_named(
    method: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name)
    )
    with pytest.raises(ConfigError, match=f"method '{method}' needs the '{module}' package"):
        make_strategy(method, SPACE, MAX)


# ----------------------------------------------------------------------------- tell


def test_tell_states_and_errors() -> None:
    strategy = make_strategy("random", CONTINUOUS, MIN, seed=0)
    a, b, c, d = (_ask(strategy) for _ in range(4))
    strategy.tell(a.number, 1.5)
    strategy.tell(b.number, None, "failed")
    strategy.report(c.number, 0.7, step=0)
    strategy.report(c.number, 0.4, step=1)
    strategy.tell(c.number, None, "pruned")
    strategy.tell(d.number, float("nan"))
    trials = strategy.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.FAIL,
    ]
    assert trials[0].value == 1.5
    assert trials[2].value == 0.4  # a pruned trial keeps its last intermediate value
    assert trials[2].intermediate_values == {0: 0.7, 1: 0.4}
    with pytest.raises(InvalidInput, match="trial 0 is not running"):
        strategy.tell(a.number, 1.0)
    with pytest.raises(InvalidInput, match="is not running"):
        strategy.report(99, 1.0, step=0)
    e = _ask(strategy)
    with pytest.raises(InvalidInput, match="needs 1 number"):
        strategy.tell(e.number, [1.0, 2.0])
    with pytest.raises(InvalidInput, match="needs 1 value"):
        strategy.tell(e.number, None)
    with pytest.raises(InvalidInput, match="state must be complete, pruned or failed"):
        strategy.tell(e.number, 1.0, "done")  # type: ignore[arg-type]
    strategy.tell(e.number, 2)  # ints are fine


def test_add_finished_rejects_points_outside_the_space() -> None:
    strategy = make_strategy("tpe", SPACE, MAX)
    with pytest.raises(InvalidInput, match="not in the space"):
        strategy.add_finished({"model": "rf"}, 1.0)


@pytest.mark.parametrize("method", ["tpe", "hyperopt-tpe"])
def test_ask_and_tell_from_different_threads(method: str) -> None:
    strategy = make_strategy(method, CONTINUOUS, MAX, seed=2)
    told: list[int] = []
    errors: list[BaseException] = []
    pending: list[Proposal] = []
    cond = threading.Condition()

    def teller() -> None:
        try:
            while len(told) < 40:
                with cond:
                    if not cond.wait_for(lambda: pending, timeout=60):
                        raise TimeoutError("no proposal to tell")
                    proposal = pending.pop(0)
                strategy.tell(proposal.number, _value(proposal.params))
                told.append(proposal.number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=teller, daemon=True)
    thread.start()
    for _ in range(40):
        proposal = _ask(strategy)
        with cond:
            pending.append(proposal)
            cond.notify()
    thread.join(timeout=120)
    assert not errors
    assert sorted(told) == list(range(40))
    trials = strategy.study.get_trials(deepcopy=False)
    assert all(t.state == TrialState.COMPLETE for t in trials)


# ----------------------------------------------------------------------------- hyperopt


def _quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 1.0) ** 2 + (params["y"] + 2.0) ** 2


_PLANE = parse_space(
    {
        "x": {"distribution": "uniform", "min": -5.0, "max": 5.0},
        "y": {"distribution": "uniform", "min": -5.0, "max": 5.0},
    }
)


def _quadratic_run(method: str, seed: int, n: int = 40) -> list[dict[str, Any]]:
    strategy = make_strategy(method, _PLANE, MIN, seed=seed)
    points = []
    for _ in range(n):
        proposal = _ask(strategy)
        points.append(proposal.params)
        strategy.tell(proposal.number, _quadratic(proposal.params))
    return points


def test_hyperopt_tpe_beats_random_search_on_a_quadratic() -> None:
    seeds = range(20)
    tpe = [min(map(_quadratic, _quadratic_run("hyperopt-tpe", s))) for s in seeds]
    rand = [min(map(_quadratic, _quadratic_run("hyperopt-random", s))) for s in seeds]
    # Both share hyperopt's 20 random start-up trials; TPE's next 20 do far better.
    assert sum(tpe) < 0.6 * sum(rand)
    assert sum(t <= r for t, r in zip(tpe, rand, strict=True)) >= 15


@pytest.mark.parametrize("algo", ["tpe", "rand"])
def test_hyperopt_proposals_match_hyperopt_fmin(algo: str) -> None:
    """The adapter drives hyperopt exactly as its own fmin does, seed for seed."""
    import numpy as np
    from hyperopt import Trials, fmin, hp, rand, tpe

    trials = Trials()
    fmin(
        _quadratic,
        {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)},
        algo=tpe.suggest if algo == "tpe" else rand.suggest,
        max_evals=30,
        trials=trials,
        rstate=np.random.default_rng(9),
        show_progressbar=False,
    )
    expected = [{k: v[0] for k, v in doc["misc"]["vals"].items()} for doc in trials.trials]
    ours = _quadratic_run(f"hyperopt-{'random' if algo == 'rand' else 'tpe'}", 9, n=30)
    assert ours == expected


def test_hyperopt_maximize_learns_from_negated_loss() -> None:
    space = parse_space({"x": {"distribution": "uniform", "min": 0.0, "max": 10.0}})
    strategy = make_strategy("hyperopt-tpe", space, MAX, seed=0)
    xs = []
    for _ in range(40):
        proposal = _ask(strategy)
        xs.append(proposal.params["x"])
        strategy.tell(proposal.number, proposal.params["x"])  # larger is better
    assert sum(xs[20:]) / 20 > sum(xs[:20]) / 20 + 1.0  # TPE moves towards x = 10


def test_hyperopt_trials_mirror_the_ledger() -> None:
    strategy = make_strategy("hyperopt-tpe", SPACE, MAX, seed=1)
    a, b, c = (_ask(strategy) for _ in range(3))
    strategy.tell(a.number, 2.0)
    strategy.report(b.number, 0.5, step=3)
    strategy.tell(b.number, None, "pruned")
    strategy.tell(c.number, None, "failed")
    strategy.add_finished(a.params, 3.0)
    trials = strategy._proposer.trials  # type: ignore[attr-defined]
    results = [doc["result"] for doc in trials.trials]
    assert results == [
        {"status": "ok", "loss": -2.0},
        {"status": "ok", "loss": -0.5},
        {"status": "fail"},
        {"status": "ok", "loss": -3.0},
    ]
    assert all(doc["state"] == 2 for doc in trials.trials)  # JOB_STATE_DONE


# ----------------------------------------------------------------------------- pruning

_PRUNE_SPACE = parse_space({"lr": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.1}})


@pytest.mark.parametrize("method", SINGLE)
def test_median_pruner_prunes_clearly_worse_trials(method: str) -> None:
    space = _PRUNE_SPACE if method == "grid" else CONTINUOUS
    strategy = make_strategy(
        method, space, MAX, seed=0, pruner=PrunerSpec("median", min_steps=3, min_trials=4)
    )
    for _ in range(4):  # good trials: 1.0 at every step
        proposal = _ask(strategy)
        for step in range(10):
            strategy.report(proposal.number, 1.0 + step * 0.01, step)
            assert not strategy.should_prune(proposal.number)
        strategy.tell(proposal.number, 1.1)
    bad, good = _ask(strategy), _ask(strategy)
    pruned_at = None
    for step in range(10):
        strategy.report(bad.number, 0.1, step)
        strategy.report(good.number, 2.0, step)
        assert not strategy.should_prune(good.number)
        if strategy.should_prune(bad.number):
            pruned_at = step
            break
    assert pruned_at == 3  # first step after the warm-up
    strategy.tell(bad.number, None, "pruned")
    strategy.tell(good.number, 2.0)
    states = [t.state for t in strategy.study.get_trials(deepcopy=False)]
    assert states.count(TrialState.PRUNED) == 1


def test_no_pruner_never_prunes() -> None:
    strategy = make_strategy("random", CONTINUOUS, MAX, seed=0)
    for _ in range(6):
        proposal = _ask(strategy)
        strategy.report(proposal.number, 1.0, 0)
        strategy.tell(proposal.number, 1.0)
    proposal = _ask(strategy)
    strategy.report(proposal.number, -100.0, 5)
    assert not strategy.should_prune(proposal.number)


@pytest.mark.parametrize("kind", ["hyperband", "successive_halving"])
def test_other_pruners_prune(kind: str) -> None:
    strategy = make_strategy(
        "random", CONTINUOUS, MAX, seed=0, pruner=PrunerSpec(kind, min_steps=1, max_steps=27)
    )
    pruned = 0
    for i in range(30):
        proposal = _ask(strategy)
        value = float(i % 5)  # some trials are clearly worse
        for step in range(27):
            strategy.report(proposal.number, value, step)
            if strategy.should_prune(proposal.number):
                strategy.tell(proposal.number, None, "pruned")
                pruned += 1
                break
        else:
            strategy.tell(proposal.number, value)
    assert pruned > 0


def test_pruning_is_refused_with_several_goals() -> None:
    strategy = make_strategy("nsga2", CONTINUOUS, [Goal("a", "maximize"), Goal("b", "minimize")])
    proposal = _ask(strategy)
    with pytest.raises(InvalidInput, match="single goal"):
        strategy.report(proposal.number, 1.0, 0)
    with pytest.raises(InvalidInput, match="single goal"):
        strategy.should_prune(proposal.number)


# ----------------------------------------------------------------------------- storage, workers


def _worker(storage_url: str, study_name: str, number: int, values: list[float]) -> bool:
    handle = TrialHandle(storage_url, study_name, number)
    for step, value in enumerate(values):
        handle.report(value, step)
        if handle.should_prune():
            return True
    return False


def test_trial_handle_reports_and_prunes_from_a_spawned_process(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'optuna.log'}"
    strategy = make_strategy(
        "tpe",
        CONTINUOUS,
        MAX,
        seed=0,
        storage=url,
        study_name="sweep-1",
        pruner=PrunerSpec("median", min_steps=2, min_trials=3),
    )
    assert strategy.storage_url == url
    assert strategy.study_name == "sweep-1"
    for _ in range(3):
        proposal = _ask(strategy)
        for step in range(6):
            strategy.report(proposal.number, 1.0, step)
        strategy.tell(proposal.number, 1.0)
    bad, good = _ask(strategy), _ask(strategy)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        bad_result = pool.apply_async(_worker, (url, "sweep-1", bad.number, [0.0] * 6))
        good_result = pool.apply_async(_worker, (url, "sweep-1", good.number, [2.0] * 6))
        assert bad_result.get(timeout=300) is True
        assert good_result.get(timeout=300) is False
    # The main process sees what the workers reported.
    frozen = {t.number: t for t in strategy.study.get_trials(deepcopy=False)}
    assert frozen[bad.number].intermediate_values == {0: 0.0, 1: 0.0, 2: 0.0}
    assert frozen[good.number].intermediate_values == dict.fromkeys(range(6), 2.0)
    assert strategy.should_prune(bad.number)
    assert not strategy.should_prune(good.number)
    strategy.tell(bad.number, None, "pruned")
    strategy.tell(good.number, 2.0)
    assert strategy.study.best_value == 2.0


def test_trial_handle_in_process_with_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    strategy = make_strategy(
        "random", CONTINUOUS, MIN, seed=0, storage=url, study_name="s", pruner=PrunerSpec("none")
    )
    proposal = _ask(strategy)
    handle = TrialHandle(url, "s", proposal.number)
    assert handle.number == proposal.number
    handle.report(3.0, 0)
    assert not handle.should_prune()
    strategy.tell(proposal.number, 3.0)
    assert strategy.study.trials[0].intermediate_values == {0: 3.0}
    with pytest.raises(Conflict, match="study 's' already exists"):
        make_strategy("random", CONTINUOUS, MIN, storage=url, study_name="s")


def test_custom_proposer_contract() -> None:
    with pytest.raises(TypeError):
        Proposer()  # type: ignore[abstract]

    class Partial(Proposer):
        pass

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]


def test_a_trial_handle_on_a_machine_without_the_journal_says_where_a_shared_study_lives(
    tmp_path: Path,
) -> None:
    url = f"journal:{tmp_path / 'elsewhere' / 'study.log'}"  # the orchestrator's tmp dir
    with pytest.raises(ConfigError, match=r"not on this machine .*PostgreSQL store or a tunetrack"):
        TrialHandle(url, "sweep-1", 0)
    assert not (tmp_path / "elsewhere").exists()
