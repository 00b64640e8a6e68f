"""Group the runs table by a param: mean ± sample std of each chosen metric per value, over
every matching run (trials included), on SQLite and PostgreSQL, checked against Python's
statistics over the same runs."""

from __future__ import annotations

import statistics

import pytest
from sklearn.datasets import load_wine
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from tunetrack.server.ui import reads
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.client import Client


@pytest.fixture
def wine_runs(db_uri: str) -> tuple[SqlStore, str, list[tuple[str, str, float, float]]]:
    """Runs of k-NN on wine: (weights, k) varied, accuracy mean and std over 5 folds logged;
    one run has no `weights` param, one no `accuracy` metric."""
    X, y = load_wine(return_X_y=True)
    client = Client(db_uri)
    experiment = client.create_experiment("wine-knn")
    logged = []
    for weights in ("uniform", "distance"):
        for k in (1, 3, 5, 9, 15):
            scores = cross_val_score(KNeighborsClassifier(k, weights=weights), X, y, cv=5)
            run = client.create_run(experiment)
            client.log_param(run.info.run_id, "weights", weights)
            client.log_param(run.info.run_id, "k", k)
            client.log_metric(run.info.run_id, "accuracy", float(scores.mean()))
            client.log_metric(run.info.run_id, "offset", 1000.0 + float(scores.std()))
            client.set_terminated(run.info.run_id)
            logged.append(
                (run.info.run_id, weights, float(scores.mean()), 1000.0 + float(scores.std()))
            )
    bare = client.create_run(experiment)
    client.log_metric(bare.info.run_id, "accuracy", 0.5)
    unscored = client.create_run(experiment)
    client.log_param(unscored.info.run_id, "weights", "uniform")
    client.close()
    return SqlStore(db_uri), experiment, logged


def test_groups_hold_mean_and_sample_std_of_each_metric(
    wine_runs: tuple[SqlStore, str, list[tuple[str, str, float, float]]],
) -> None:
    store, experiment, logged = wine_runs
    try:
        groups = {
            g.value: g
            for g in reads.group_stats(store, [experiment], None, "weights", ["accuracy", "offset"])
        }
    finally:
        store.close()
    assert set(groups) == {"uniform", "distance", None}
    assert groups["uniform"].runs == 6  # five scored runs and the unscored one
    assert groups[None].runs == 1
    assert groups[None].stats["accuracy"] == (0.5, None, 1)
    for weights in ("uniform", "distance"):
        acc = [a for _, w, a, _ in logged if w == weights]
        off = [o for _, w, _, o in logged if w == weights]
        mean, std, n = groups[weights].stats["accuracy"]
        assert n == 5
        assert mean == pytest.approx(statistics.mean(acc), rel=1e-12)
        assert std == pytest.approx(statistics.stdev(acc), rel=1e-9)
        # a large offset and a small spread: a one-pass E[x²] - E[x]² would lose the std
        mean, std, _ = groups[weights].stats["offset"]
        assert mean == pytest.approx(statistics.mean(off), rel=1e-12)
        assert std == pytest.approx(statistics.stdev(off), rel=1e-6)


def test_groups_follow_the_filter(
    wine_runs: tuple[SqlStore, str, list[tuple[str, str, float, float]]],
) -> None:
    store, experiment, _ = wine_runs
    try:
        groups = reads.group_stats(
            store,
            [experiment],
            "params.k IN ('1', '3') AND metrics.accuracy > 0",
            "weights",
            ["accuracy"],
        )
    finally:
        store.close()
    assert sorted((g.value, g.runs) for g in groups) == [("distance", 2), ("uniform", 2)]
