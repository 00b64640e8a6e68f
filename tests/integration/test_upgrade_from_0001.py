"""``tunetrack db upgrade`` brings a store made at the first schema revision (0001) to the
newest one with its data intact: every value reads back through the public Client, field by
field, and the store then works as a new one (metrics logged, a model registered, gc)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text

from tunetrack.entities import LifecycleStage, Metric, RunStatus, ViewType
from tunetrack.errors import StoreError
from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql.store import SqlStore
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import RunTunetrack

T = 1_700_000_000_000  # when the old store was written (November 2023)
SWEEP, TRIAL_1, TRIAL_2, DROPPED, IN_OLD = "a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32

# (experiment_id, name, lifecycle_stage, creation_time, last_update_time)
EXPERIMENTS = [
    (0, "Default", "active", T, T),
    (1, "iris", "active", T + 1, T + 2),
    (2, "abandoned", "deleted", T + 3, T + 4),
]
EXPERIMENT_TAGS = [(1, "team", "vision"), (1, "note", "é ✓ multi\nline"), (2, "team", "old")]
# (run_id, experiment_id, run_name, user_id, status, start, end, stage, parent)
RUNS = [
    (SWEEP, 1, "sweep", "ann", "FINISHED", T + 10, T + 90, "active", None),
    (TRIAL_1, 1, "trial-1", "ann", "FINISHED", T + 11, T + 40, "active", SWEEP),
    (TRIAL_2, 1, "trial-2", "ann", "RUNNING", T + 41, None, "active", SWEEP),
    (DROPPED, 1, "dropped", "bob", "FAILED", T + 50, T + 51, "deleted", None),
    (IN_OLD, 2, "in-old", "bob", "KILLED", T + 60, T + 61, "deleted", None),
]
PARAMS = [
    (TRIAL_1, "lr", "0.1"),
    (TRIAL_1, "depth", "3"),
    (TRIAL_2, "lr", "0.01"),
    (TRIAL_2, "depth", "5"),
    (SWEEP, "space", '{"lr": [0.01, 0.1]}'),
    (IN_OLD, "lr", "1"),
]
TAGS = [
    (SWEEP, "tunetrack.sweep", "grid"),
    (TRIAL_1, "tunetrack.parentRunId", SWEEP),
    (TRIAL_2, "tunetrack.parentRunId", SWEEP),
    (DROPPED, "why", "oom"),
]
# (run_id, key, step, timestamp, value); None is NaN as 0001 stored it
METRICS = [
    (TRIAL_1, "loss", 0, T + 12, 0.9),
    (TRIAL_1, "loss", 1, T + 13, 0.5),
    (TRIAL_1, "loss", 2, T + 14, 0.25),
    (TRIAL_1, "acc", 2, T + 14, 0.875),
    (TRIAL_2, "loss", 0, T + 42, math.inf),
    (TRIAL_2, "loss", 1, T + 43, None),
    (TRIAL_2, "acc", 0, T + 42, -math.inf),
    (SWEEP, "best_loss", 0, T + 89, 0.25),
    (IN_OLD, "loss", 0, T + 60, 3.0),
]


def _latest() -> list[tuple[Any, ...]]:
    """latest_metrics as 0001 kept it: per (run, key) the highest step, then timestamp."""
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for run_id, key, step, ts, value in METRICS:
        if (run_id, key) not in best or (step, ts) >= best[run_id, key][2:4]:
            best[run_id, key] = (run_id, key, step, ts, value)
    experiment = {run[0]: run[1] for run in RUNS}
    return [(*row, experiment[row[0]]) for row in best.values()]


def _fill_0001(uri: str, artifacts: Path) -> None:
    """A store at revision 0001 holding the rows above, written with plain SQL."""
    engine = sql_engine.make_engine(uri)
    with sql_engine.write_transaction(engine) as conn:
        sql_engine.run_migrations(conn, "0001")
    plain = create_engine(uri)
    with plain.begin() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, "
                "lifecycle_stage, creation_time, last_update_time) VALUES (:i, :n, :a, :s, :c, :u)"
            ),
            [
                {"i": i, "n": n, "a": str(artifacts / str(i)), "s": s, "c": c, "u": u}
                for i, n, s, c, u in EXPERIMENTS
            ],
        )
        conn.execute(
            text("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (:e, :k, :v)"),
            [{"e": e, "k": k, "v": v} for e, k, v in EXPERIMENT_TAGS],
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time, "
                "end_time, lifecycle_stage, artifact_uri, parent_run_id) "
                "VALUES (:r, :e, :n, :u, :st, :s, :f, :l, :a, :p)"
            ),
            [
                dict(zip(["r", "e", "n", "u", "st", "s", "f", "l", "p"], row, strict=True))
                | {"a": str(artifacts / str(row[1]) / row[0])}
                for row in RUNS
            ],
        )
        for table, rows in (("params", PARAMS), ("tags", TAGS)):
            conn.execute(
                text(f"INSERT INTO {table} (run_id, key, value) VALUES (:r, :k, :v)"),
                [{"r": r, "k": k, "v": v} for r, k, v in rows],
            )
        conn.execute(
            text(
                "INSERT INTO metrics (run_id, key, step, timestamp, value) "
                "VALUES (:r, :k, :s, :t, :v)"
            ),
            [dict(zip("rkstv", row, strict=True)) for row in METRICS],
        )
        conn.execute(
            text(
                "INSERT INTO latest_metrics (run_id, key, step, timestamp, value, experiment_id) "
                "VALUES (:r, :k, :s, :t, :v, :e)"
            ),
            [dict(zip("rkstve", row, strict=True)) for row in _latest()],
        )
    plain.dispose()
    engine.dispose()


def _same(a: float, b: float | None) -> bool:
    return math.isnan(a) if b is None else a == b


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_0001_store_upgrades_with_every_value_intact_and_then_works(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    run_tunetrack: RunTunetrack,
) -> None:
    uri = (
        f"sqlite:///{tmp_path}/first.db"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_uri")
    )
    artifacts = tmp_path / "artifacts"
    _fill_0001(uri, artifacts)
    with pytest.raises(StoreError, match=r"revision 0001.*tunetrack db upgrade"):
        SqlStore(uri)
    (tmp_path / "cwd").mkdir()
    upgraded_after = int(time.time() * 1000)
    done = run_tunetrack("db", "upgrade", "--tracking-uri", uri, cwd=tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    assert f"new experiments keep their artifacts in {artifacts}" in done.stdout

    with Client(uri) as c:
        experiments = c.search_experiments(ViewType.ALL, order_by=["experiment_id"])
        assert [e.experiment_id for e in experiments] == ["0", "1", "2"]
        for e, (eid, name, stage, created, updated) in zip(experiments, EXPERIMENTS, strict=True):
            assert e.name == name
            assert e.lifecycle_stage is LifecycleStage(stage)
            assert e.artifact_location == str(artifacts / str(eid))
            assert e.creation_time == created
            assert e.last_update_time == updated
            assert dict(e.tags) == {k: v for i, k, v in EXPERIMENT_TAGS if i == eid}
        assert c.get_experiment_by_name("iris") == experiments[1]

        for run_id, eid, name, user, status, start, end, stage, parent in RUNS:
            run = c.get_run(run_id)
            info = run.info
            assert info.experiment_id == str(eid)
            assert info.run_name == name
            assert info.user_id == user
            assert info.status is RunStatus(status)
            assert info.start_time == start
            assert info.end_time == end
            assert info.lifecycle_stage is LifecycleStage(stage)
            assert info.artifact_uri == str(artifacts / str(eid) / run_id)
            assert info.parent_run_id == parent
            assert dict(run.data.params) == {k: v for r, k, v in PARAMS if r == run_id}
            assert dict(run.data.tags) == {k: v for r, k, v in TAGS if r == run_id}
            latest = {k: val for r, k, _s, _t, val, _e in _latest() if r == run_id}
            assert run.data.metrics.keys() == latest.keys()
            for key, value in latest.items():
                assert _same(run.data.metrics[key], value), (run_id, key)
                history = c.get_metric_history(run_id, key)
                points = [p for p in METRICS if p[0] == run_id and p[1] == key]
                assert [(h.step, h.timestamp) for h in history] == [(p[2], p[3]) for p in points]
                assert all(_same(h.value, p[4]) for h, p in zip(history, points, strict=True))

        found = c.search_runs(["1"], "params.lr = '0.1'", ViewType.ALL)
        assert [r.info.run_id for r in found] == [TRIAL_1]
        ranked = c.search_runs(["1"], "metrics.loss < 1", order_by=["metrics.loss ASC"])
        assert [r.info.run_id for r in ranked] == [TRIAL_1]
        assert {r.info.run_id for r in c.search_runs(["1"])} == {SWEEP, TRIAL_1, TRIAL_2}

        # usable: log to an old run and a new one, register a model
        c.log_metric(TRIAL_2, "loss", 0.125, timestamp=T + 44, step=2, synchronous=True)
        assert c.get_run(TRIAL_2).data.metrics["loss"] == 0.125
        assert [h.step for h in c.get_metric_history(TRIAL_2, "loss")] == [0, 1, 2]
        new = c.create_run("1", run_name="after-upgrade", parent_run_id=SWEEP)
        c.log_batch(new.info.run_id, metrics=[Metric("loss", 0.1, T + 100, 0)])
        assert new.info.artifact_uri == str(artifacts / "1" / new.info.run_id)
        assert c.get_run(new.info.run_id).data.metrics == {"loss": 0.1}
        c.create_registered_model("iris-tree")
        version = c.create_model_version("iris-tree", f"runs:/{TRIAL_1}/model", run_id=TRIAL_1)
        assert version.version == 1
        assert c.get_latest_version("iris-tree").run_id == TRIAL_1

    # 0007 dated the old deletions: the experiment by its last update, the lone run (whose
    # deletion time 0001 did not keep) by the upgrade, so `--older-than` spares it for now
    engine = create_engine(uri)
    with engine.connect() as conn:
        times = dict(conn.execute(text("SELECT run_id, deleted_time FROM runs")).all())
        old = conn.execute(text("SELECT deleted_time FROM experiments WHERE experiment_id = 2"))
        assert old.scalar() == T + 4
    engine.dispose()
    assert times[IN_OLD] == T + 4
    assert times[DROPPED] >= upgraded_after
    assert {times[r] for r in (SWEEP, TRIAL_1, TRIAL_2, new.info.run_id)} == {None}
    gc = run_tunetrack("gc", "--tracking-uri", uri, "--older-than", "1d", "--json", cwd=tmp_path)
    assert gc.returncode == 0, gc.stderr
    report = json.loads(gc.stdout)
    assert (report["experiment_ids"], report["run_ids"]) == (["2"], [IN_OLD])
    assert report["rows"]["metrics"] == 1
