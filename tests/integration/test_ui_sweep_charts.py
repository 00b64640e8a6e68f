"""The sweep and compare pages' extra charts over real sweeps in a SQLite file: intermediate
values with pruned trials marked, the Pareto front of a two-objective sweep, contour and box
plots on compare, and the updates a running sweep's page fetches."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import tunetrack
from tunetrack.entities import RunStatus
from tunetrack.server.ui.sweep import pareto_mask
from tunetrack.store.sql.store import SqlStore
from ui_server import serve_ui

EPOCHS = 6
PRUNED_AFTER = 3  # reports a pruned trial makes before it stops
_FIGURE = re.compile(
    r'<script type="application/json" class="figure-data" data-target="([^"]+)">(.*?)</script>',
    re.S,
)


def _digits_epochs(params: dict[str, Any], trial: Any) -> dict[str, float]:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    model = SGDClassifier(alpha=params["alpha"], random_state=0)
    accuracy = 0.0
    for epoch in range(EPOCHS):
        model.partial_fit(X_train, y_train, classes=list(range(10)))
        accuracy = float(model.score(X_test, y_test))
        trial.report(accuracy, epoch)
        if params["alpha"] >= 1.0 and epoch == PRUNED_AFTER - 1:
            raise tunetrack.TrialPruned()  # the user's own rule: large alphas stop early
    return {"accuracy": accuracy}


def _tree(params: dict[str, Any]) -> dict[str, float]:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = DecisionTreeClassifier(
        max_depth=params["max_depth"], min_samples_leaf=params["min_samples_leaf"], random_state=0
    ).fit(X_train, y_train)
    return {"accuracy": float(model.score(X_test, y_test)), "leaves": float(model.get_n_leaves())}


@dataclass
class Sweeps:
    uri: str
    root: Path
    pruned: str  # sweep id: digits SGD with two trials pruned
    pareto: str  # sweep id: accuracy vs leaves of a decision tree


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Sweeps:
    root = tmp_path_factory.mktemp("ui-sweeps")
    uri = f"sqlite:///{root}/sweeps.db"
    pruned = tunetrack.sweep.run(
        _digits_epochs,
        metric={"name": "accuracy", "goal": "maximize"},
        parameters={"alpha": {"values": [1e-4, 1e-2, 1.0, 10.0]}},
        method="grid",
        experiment="digits",
        tracking_uri=uri,
        progress=False,
    )
    pareto = tunetrack.sweep.run(
        _tree,
        metric=[{"name": "accuracy", "goal": "maximize"}, {"name": "leaves", "goal": "minimize"}],
        parameters={
            "max_depth": {"distribution": "int", "min": 1, "max": 8},
            "min_samples_leaf": {"distribution": "int", "min": 1, "max": 20},
        },
        method="nsga2",
        budget={"trials": 16},
        experiment="trees",
        seed=3,
        tracking_uri=uri,
        progress=False,
    )
    return Sweeps(uri, root, pruned.sweep_id, pareto.sweep_id)


@pytest.fixture(scope="module")
def ui(sweeps: Sweeps) -> Iterator[httpx.Client]:
    with serve_ui(sweeps.uri, sweeps.root) as base, httpx.Client(base_url=base, timeout=60) as c:
        yield c


def _figures(ui: httpx.Client, url: str, **params: object) -> dict[str, dict]:
    response = ui.get(url, params=params)
    assert response.status_code == 200, response.text[:2000]
    return {target: json.loads(body) for target, body in _FIGURE.findall(response.text)}


def _trials(uri: str, sweep_id: str) -> list[Any]:
    store = SqlStore(uri)
    try:
        parent = store.get_run(sweep_id)
        runs = store.search_runs(
            [parent.info.experiment_id],
            f"attributes.parent_run_id = '{sweep_id}' AND tags.`tunetrack.run_type` = 'trial'",
        )
        histories = {
            r.info.run_id: [
                (p.step, p.value) for p in store.get_metric_history(r.info.run_id, "accuracy")
            ]
            for r in runs
        }
    finally:
        store.close()
    return [(r, histories[r.info.run_id]) for r in runs]


def test_intermediate_values_draw_every_report_and_mark_pruned_trials(
    ui: httpx.Client, sweeps: Sweeps
) -> None:
    trials = _trials(sweeps.uri, sweeps.pruned)
    pruned = {
        r.data.tags["tunetrack.trial.number"]
        for r, _ in trials
        if r.info.status is RunStatus.PRUNED
    }
    assert len(pruned) == 2  # alpha 1.0 and 10.0
    figure = _figures(ui, f"/sweeps/{sweeps.pruned}")["intermediate"]
    traces = {t["name"]: t for t in figure["data"]}
    assert len(traces) == 4
    for run, history in trials:
        number = run.data.tags["tunetrack.trial.number"]
        is_pruned = number in pruned
        trace = traces[f"#{number} (pruned)" if is_pruned else f"#{number}"]
        assert trace["x"] == [step for step, _ in history]
        assert trace["y"] == pytest.approx([value for _, value in history])
        assert trace["x"][-1] == (PRUNED_AFTER if is_pruned else EPOCHS) - 1
        if is_pruned:
            assert trace["line"]["dash"] == "dot"
            assert trace["marker"]["symbol"][-1] == "x"
        else:
            assert "marker" not in trace


def test_pareto_front_is_exactly_the_non_dominated_trials(ui: httpx.Client, sweeps: Sweeps) -> None:
    points = {
        f"#{r.data.tags['tunetrack.trial.number']}": (
            r.data.metrics["accuracy"],
            r.data.metrics["leaves"],
        )
        for r, _ in _trials(sweeps.uri, sweeps.pareto)
        if r.info.status is RunStatus.FINISHED
    }
    assert len(points) == 16

    def dominated(name: str) -> bool:
        acc, leaves = points[name]
        return any(
            a >= acc and lv <= leaves and (a > acc or lv < leaves)
            for other, (a, lv) in points.items()
            if other != name
        )

    figure = _figures(ui, f"/sweeps/{sweeps.pareto}")["pareto"]
    by_name = {t["name"]: t for t in figure["data"]}
    front = set(by_name["Pareto front"]["text"])
    assert front == {n for n in points if not dominated(n)}
    assert set(by_name["dominated"]["text"]) == set(points) - front
    assert 1 <= len(front) < len(points)


def _dominated(
    p: tuple[float, float], points: list[tuple[float, float]], signs: tuple[int, int]
) -> bool:
    a = (p[0] * signs[0], p[1] * signs[1])
    scaled = ((q[0] * signs[0], q[1] * signs[1]) for q in points)
    return any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in scaled)


def test_pareto_mask_matches_pairwise_dominance_with_ties() -> None:
    rng = random.Random(7)
    for signs in itertools.product((1, -1), repeat=2):
        for _ in range(50):
            points = [(rng.randint(0, 5) * 1.0, rng.randint(0, 5) * 1.0) for _ in range(12)]
            expected = [not _dominated(p, points, signs) for p in points]
            assert pareto_mask(points, signs) == expected


def test_compare_draws_a_contour_and_boxes_of_the_colour_metric(
    ui: httpx.Client, sweeps: Sweeps
) -> None:
    trials = [r for r, _ in _trials(sweeps.uri, sweeps.pareto)]
    ids = [r.info.run_id for r in trials]
    figures = _figures(
        ui, "/compare", runs=",".join(ids), color="metrics.accuracy",
        cx="params.max_depth", cy="params.min_samples_leaf", box="params.max_depth",
    )  # fmt: skip
    contour, markers = figures["contour"]["data"]
    assert contour["type"] == "contour"
    expected = {
        (
            float(r.data.params["max_depth"]),
            float(r.data.params["min_samples_leaf"]),
        ): r.data.metrics["accuracy"]
        for r in trials
    }
    drawn = dict(zip(zip(contour["x"], contour["y"], strict=True), contour["z"], strict=True))
    assert drawn == pytest.approx(expected)
    assert markers["x"] == contour["x"]
    boxes = {t["name"]: sorted(t["y"]) for t in figures["box"]["data"]}
    by_depth: dict[str, list[float]] = {}
    for r in trials:
        by_depth.setdefault(r.data.params["max_depth"], []).append(r.data.metrics["accuracy"])
    assert boxes == {k: sorted(v) for k, v in by_depth.items()}
    names = [t["name"] for t in figures["box"]["data"]]
    assert names == sorted(names, key=int)  # numeric values in numeric order


def test_sweep_updates_send_only_trials_changed_since(ui: httpx.Client, sweeps: Sweeps) -> None:
    everything = ui.get(f"/sweeps/{sweeps.pruned}/updates", params={"since": 0}).json()
    assert everything["status"] == "FINISHED"
    assert len(re.findall(r"<tr data-run=", everything["rows"])) == 4
    assert "PRUNED 2" in everything["counts"]
    assert sorted(n for n, _ in everything["finished"]) == [0, 1]
    later = ui.get(f"/sweeps/{sweeps.pruned}/updates", params={"since": everything["now"] + 60_000})
    assert later.status_code == 200
    assert later.json()["rows"].strip() == ""
    assert later.json()["finished"] == []
    assert "4:" in later.json()["counts"]  # the counts are always whole


def test_runs_page_groups_trials_by_a_param(ui: httpx.Client, sweeps: Sweeps) -> None:
    trials = [r for r, _ in _trials(sweeps.uri, sweeps.pareto)]
    experiment = trials[0].info.experiment_id
    response = ui.get(
        f"/experiments/{experiment}",
        params={"group": "params.max_depth", "cols": "metrics.accuracy", "nested": 0},
    )
    assert response.status_code == 200, response.text[:2000]
    table = response.text.split('id="groups">')[1].split("</table>")[0]
    shown = dict(re.findall(r'<tr><td class="mono">([^<]+)</td><td class="num">(\d+)</td>', table))
    depths = [r.data.params["max_depth"] for r in trials]
    expected = {d: str(depths.count(d)) for d in set(depths)}
    assert shown == {**expected, "(none)": "1"}  # the sweep's own run has no max_depth
    bad = ui.get(f"/experiments/{experiment}", params={"group": "metrics.accuracy"})
    assert bad.status_code == 400
    assert "group by a param" in bad.text
