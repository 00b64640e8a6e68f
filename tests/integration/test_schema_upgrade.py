"""``tunetrack db upgrade`` brings a store written by an older tunetrack to the newest schema,
keeping every row; what the older revision could not record stays NULL and still works, and
the artifact root it used is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, insert, inspect, text

import tunetrack
from tunetrack.errors import StoreError
from tunetrack.models import ModelIntegrityError, load_model, save_model
from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql import models as m
from tunetrack.store.sql.store import SqlStore

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import RunTunetrack


# the metric tables as revisions before 0012 had them: each point with its run id and key
_NUMBERS = ("step", "timestamp", "value")
_METRICS_BEFORE_0012 = sa.table("metrics", *map(sa.column, ("run_id", "key", *_NUMBERS)))
_LATEST_BEFORE_0012 = sa.table(
    "latest_metrics", *map(sa.column, ("run_id", "key", "experiment_id", *_NUMBERS))
)


def _fill_old_store(uri: str, artifacts: Path, revision: str) -> tuple[Any, Any]:
    """A store at ``revision`` (0002 or 0003) with a run, its metrics and a registered model
    (version 1, ``champion``) as tunetrack of that revision wrote them, its artifacts under
    ``artifacts``; return the model and its data."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    run_id = "a" * 32
    artifact_uri = str(artifacts / "1" / run_id)
    save_model(tree, Path(artifact_uri) / "model")
    t = 1_700_000_000_000
    version = {"name": "old", "version": 1, "creation_time": t, "last_updated_time": t}
    rows = [
        (m.experiments, {"experiment_id": 0, "name": "Default", "artifact_location": str(artifacts / "0")}),  # noqa: E501
        (m.experiments, {"experiment_id": 1, "name": "iris", "artifact_location": str(artifacts / "1")}),  # noqa: E501
        (m.runs, {"run_id": run_id, "experiment_id": 1, "run_name": "r", "user_id": "u",
                  "status": "FINISHED", "start_time": t, "end_time": t + 5,
                  "artifact_uri": artifact_uri}),
        (m.params, {"run_id": run_id, "key": "max_depth", "value": "2"}),
        (m.tags, {"run_id": run_id, "key": "team", "value": "x"}),
        (_METRICS_BEFORE_0012, {"run_id": run_id, "key": "acc", "step": 0, "timestamp": t,
                                "value": 0.9}),
        (_LATEST_BEFORE_0012, {"run_id": run_id, "key": "acc", "experiment_id": 1, "step": 0,
                               "timestamp": t, "value": 0.9}),
        (m.registered_models, {"name": "old", "description": "", "creation_time": t,
                               "last_updated_time": t, "last_version": 1}),
        (m.model_versions, {**version, "source": f"runs:/{run_id}/model", "run_id": run_id,
                            "status": "READY", "current_stage": "Production",
                            "description": "before 0003"}),
        (m.model_version_tags, {"name": "old", "version": 1, "key": "k", "value": "v"}),
        (m.model_aliases, {"name": "old", "alias": "champion", "version": 1}),
    ]  # fmt: skip
    engine = sql_engine.make_engine(uri)
    with sql_engine.write_transaction(engine) as conn:
        sql_engine.run_migrations(conn, revision)
        for table, values in rows:
            if table in (m.experiments, m.runs):
                values = {"lifecycle_stage": "active", **values}
            if table is m.experiments:
                values = {**values, "creation_time": t, "last_update_time": t}
            conn.execute(insert(table).values(**values))
    engine.dispose()
    return tree, X


def _all_rows(uri: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(uri)
    with engine.connect() as conn:
        names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
        found = {
            name: sorted(
                (dict(r) for r in conn.execute(text(f"SELECT * FROM {name}")).mappings()), key=repr
            )
            for name in names
        }
    engine.dispose()
    return found


@pytest.mark.parametrize("revision", ["0002", "0003"])
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_db_upgrade_migrates_an_old_store_keeps_its_data_and_records_its_artifact_root(
    revision: str,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    run_tunetrack: RunTunetrack,
    isolated_tracking: str,
) -> None:
    uri = (
        f"sqlite:///{tmp_path}/old.db"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_uri")
    )
    artifacts = tmp_path / "artifacts"  # not where a new store would put them
    tree, X = _fill_old_store(uri, artifacts, revision)
    before = _all_rows(uri)
    with pytest.raises(StoreError, match="tunetrack db upgrade"):
        SqlStore(uri)
    (tmp_path / "elsewhere").mkdir()
    done = run_tunetrack("db", "upgrade", "--tracking-uri", uri, cwd=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    after = _all_rows(uri)
    assert after.pop("store_settings") == [{"key": "artifact_root", "value": str(artifacts)}]
    assert after.pop("metric_batches") == []  # 0005: ids of metric batches written from now on
    for table in ("users", "api_tokens", "experiment_permissions"):  # 0006: no user made
        assert after.pop(table) == []
    for rows in (before, after):  # a 0002 store has no such column, a 0003 one left it NULL
        assert [row.pop("manifest_sha256", None) for row in rows["model_versions"]] == [None]
    for table in ("experiments", "runs"):  # 0007: nothing was deleted
        assert {row.pop("deleted_time") for row in after[table]} == {None}
    assert [row.pop("request_id") for row in after["model_versions"]] == [None]  # 0010
    series = {row.pop("series_id"): (row["run_id"], row["key"]) for row in after["latest_metrics"]}
    for point in after["metrics"]:  # 0012: a point names its series, which names run and key
        point["run_id"], point["key"] = series[point.pop("series_id")]
    assert after == before
    store = SqlStore(uri)  # its default would be tmp_path/tunetrack-artifacts
    store.close()
    assert store.artifact_root == str(artifacts)

    tunetrack.set_tracking_uri(uri)  # a version registered before 0003: file checks only
    loaded = load_model("models:/old@champion")
    assert loaded.predict(X).tolist() == tree.predict(X).tolist()
    model_file = tmp_path / "artifacts" / "1" / ("a" * 32) / "model" / "model.joblib"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match=r"'model\.joblib'"):
        load_model("models:/old/Production")
