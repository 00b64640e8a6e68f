"""Best-trial selection (goal, constraints) and retraining, on real sweeps in SQLite files.

The sweeps run ``objectives.py:quadratic`` over a 3x3 grid, so every trial's metrics are
known: ``score = -(x - 0.3)**2 - 0.01*k`` and ``size = k``.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.retrain import retrain
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.select import best_trial, sweep_goals, trial_params
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

OBJECTIVES = Path(__file__).parents[1] / "sweeps_data" / "objectives.py"
XS, KS = (0.3, 0.5, 0.9), (0, 2, 4)


def score(x: float, k: int) -> float:
    return -((x - 0.3) ** 2) - 0.01 * k


def run_grid(folder: Path, *, goal: str = "maximize", extra: str = "") -> tuple[str, str]:
    """Run the 3x3 grid sweep in ``folder``; return (tracking URI, sweep id)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBJECTIVES, folder / "objectives.py")
    path = folder / "sweep.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: grid-{goal}
            experiment: select
            objective: objectives.py:quadratic
            metric: {{name: score, goal: {goal}}}
            method: grid
            parameters:
              x: {{values: {list(XS)}}}
              k: {{values: {list(KS)}}}
            budget: {{trials: 20}}
            parallel: {{n_jobs: 1}}
            """
        )
        + textwrap.dedent(extra)
    )
    uri = f"sqlite:///{folder}/t.db"
    result = run_sweep(load_sweep_config(path), tracking_uri=uri, progress=False)
    assert result.stopped_because == "exhausted"
    assert result.counts["finished"] == 9
    return uri, result.sweep_id


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, str]:
    """A finished maximize sweep over the grid, shared by the read-only tests."""
    uri, sweep_id = run_grid(tmp_path_factory.mktemp("grid"))
    return Client(uri), sweep_id


def point(run: Run) -> tuple[float, int]:
    params = trial_params(run)
    return params["x"], params["k"]


def test_best_trial_follows_the_sweep_goal(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    best = best_trial(client, sweep_id)
    assert point(best) == (0.3, 0)
    assert best.data.metrics["score"] == pytest.approx(0.0)
    assert best.info.parent_run_id == sweep_id
    assert best.data.tags[T.RUN_TYPE] == "trial"
    parent = client.get_run(sweep_id)
    assert sweep_goals(parent) == [Goal("score", "maximize")]
    assert parent.data.tags[T.BEST_RUN] == best.info.run_id


def test_best_trial_with_another_goal(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    worst = best_trial(client, sweep_id, goal=Goal("score", "minimize"))
    assert point(worst) == (0.9, 4)
    smallest_big = best_trial(
        client, sweep_id, goal=Goal("size", "minimize"), constraints=["metrics.size > 0"]
    )
    assert point(smallest_big)[1] == 2


def test_a_constraint_excluding_the_top_trial_picks_the_next(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    best = best_trial(client, sweep_id, constraints=["metrics.size >= 1"])
    # candidates: every (x, k>=1); the best is x=0.3, k=2 (-0.02) ahead of x=0.5, k=0
    assert point(best) == (0.3, 2)
    best = best_trial(client, sweep_id, constraints=["metrics.size >= 1", "params.x != '0.3'"])
    assert point(best) == (0.5, 2)
    expected = max((score(x, k), (x, k)) for x in XS for k in KS if k >= 1 and x != 0.3)
    assert point(best) == expected[1]


def test_an_impossible_constraint_raises_not_found(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    with pytest.raises(NotFound, match=re.escape("metrics.size > 100")):
        best_trial(client, sweep_id, constraints=["metrics.size > 100"])
    with pytest.raises(NotFound, match="no finished trial"):
        best_trial(client, sweep_id, goal=Goal("no_such_metric", "maximize"))


def test_best_trial_of_a_run_that_is_not_a_sweep(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    some_trial = trial_runs(client, client.get_run(sweep_id))[0]
    with pytest.raises(InvalidInput, match="not a sweep"):
        best_trial(client, some_trial.info.run_id)


def test_trial_params_keep_their_types(grid: tuple[Client, str]) -> None:
    client, sweep_id = grid
    trials = trial_runs(client, client.get_run(sweep_id))
    assert sorted(point(r) for r in trials) == sorted((x, k) for x in XS for k in KS)
    for run in trials:
        x, k = point(run)
        assert type(x) is float
        assert type(k) is int
        assert run.data.params == {"x": str(x), "k": str(k)}


def test_minimize_sweep_picks_the_lowest(tmp_path: Path) -> None:
    uri, sweep_id = run_grid(tmp_path, goal="minimize")
    client = Client(uri)
    best = best_trial(client, sweep_id)
    assert point(best) == (0.9, 4)
    parent = client.get_run(sweep_id)
    assert parent.data.tags[T.BEST_RUN] == best.info.run_id
    assert parent.data.metrics["best_score"] == pytest.approx(score(0.9, 4))


def test_retrain_reruns_the_best_trial(tmp_path: Path) -> None:
    uri, sweep_id = run_grid(tmp_path)
    client = Client(uri)
    source = best_trial(client, sweep_id)
    assert source.data.metrics["retrain_mode"] == 0.0

    run = retrain(sweep_id, tracking_uri=uri)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.parent_run_id == sweep_id
    assert run.data.tags[T.RUN_TYPE] == "retrain"
    assert run.data.tags[T.RETRAIN_SOURCE] == source.info.run_id
    assert run.data.tags[T.SWEEP_ID] == sweep_id
    assert run.data.metrics["retrain_mode"] == 1.0  # the objective saw trial.mode == "retrain"
    assert run.data.metrics["score"] == pytest.approx(source.data.metrics["score"])
    assert run.data.params == source.data.params == {"x": "0.3", "k": "0"}
    # the retrained run is not a trial: it never becomes the "best trial" itself
    assert best_trial(client, sweep_id).info.run_id == source.info.run_id
    assert len(trial_runs(client, client.get_run(sweep_id))) == 9


def test_retrain_uses_the_sweep_file_constraints(tmp_path: Path) -> None:
    uri, sweep_id = run_grid(
        tmp_path,
        extra="""
        select: {constraints: ["metrics.size >= 1"]}
        """,
    )
    client = Client(uri)
    parent = client.get_run(sweep_id)
    constrained = best_trial(client, sweep_id, constraints=["metrics.size >= 1"])
    assert point(constrained) == (0.3, 2)
    assert parent.data.tags[T.BEST_RUN] == constrained.info.run_id  # the summary honours them
    run = retrain(sweep_id, tracking_uri=uri)
    assert run.data.tags[T.RETRAIN_SOURCE] == constrained.info.run_id
    assert run.data.params == {"x": "0.3", "k": "2"}
    # explicit constraints replace the file's
    run = retrain(sweep_id, tracking_uri=uri, constraints=[])
    assert run.data.params == {"x": "0.3", "k": "0"}
    with pytest.raises(NotFound):
        retrain(sweep_id, tracking_uri=uri, constraints=["metrics.size > 100"])
