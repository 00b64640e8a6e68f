"""What MLflow scripts call beyond the basics: run_id=/synchronous= logging, flush, the
registry, experiment tags, tables, images and dataset inputs, over a real SQLite store."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tunetrack
from tunetrack import Client
from tunetrack.entities import LifecycleStage
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.store.sql.store import SqlStore
from tunetrack.store.uri import open_artifacts


def history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) of one metric as another connection sees it (no flush of ours)."""
    other = SqlStore(uri)
    try:
        return [(m.step, m.value) for m in other.get_metric_history(run_id, key)]
    finally:
        other.close()


def artifact(run_id: str, path: str) -> bytes:
    return open_artifacts(tunetrack.get_run(run_id).info.artifact_uri).read_bytes(path)


# -- metrics: run_id=, synchronous=, flush ------------------------------------------------
def test_synchronous_log_metric_is_written_before_it_returns(tracking_uri: str) -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_metric("loss", 0.5, 3, synchronous=True)
        assert history(tracking_uri, run.info.run_id, "loss") == [(3, 0.5)]


def test_log_metrics_into_another_run_by_id(tracking_uri: str) -> None:
    other = Client().create_run("0")
    other_id = other.info.run_id
    with tunetrack.start_run() as active:
        tunetrack.log_metrics({"a": 1.0, "b": 2.0}, step=4, synchronous=True, run_id=other_id)
        tunetrack.log_metric("c", 3.0, run_id=other_id, timestamp=1_700_000_000_000)
    assert history(tracking_uri, other_id, "a") == [(4, 1.0)]
    assert history(tracking_uri, other_id, "b") == [(4, 2.0)]
    (point,) = Client().get_metric_history(other_id, "c")
    assert point.timestamp == 1_700_000_000_000
    assert tunetrack.get_run(active.info.run_id).data.metrics == {}


def test_synchronous_log_metric_raises_only_its_own_runs_refusal(tracking_uri: str) -> None:
    client = Client()
    doomed = client.create_run("0").info.run_id
    healthy = client.create_run("0").info.run_id
    tunetrack.log_metric("m", 1.0, run_id=doomed)  # checks once that the run exists
    client.flush()
    client.delete_run(doomed)
    tunetrack.log_metric("m", 2.0, run_id=doomed)  # buffered; the store will refuse it
    tunetrack.log_metric("m", 1.0, run_id=healthy, synchronous=True)  # not its refusal
    assert history(tracking_uri, healthy, "m") == [(0, 1.0)]
    with pytest.raises((InvalidInput, NotFound), match="not written"):
        tunetrack.log_metric("m", 3.0, run_id=doomed, synchronous=True)


def test_flush_writes_every_point_logged_so_far(tracking_uri: str) -> None:
    assert tunetrack.flush_async_logging is tunetrack.flush
    with tunetrack.start_run() as run:
        for step in range(5):
            tunetrack.log_metric("m", float(step), step)
        tunetrack.flush()
        assert history(tracking_uri, run.info.run_id, "m") == [(s, float(s)) for s in range(5)]


# -- runs, experiments, registry -------------------------------------------------------
def test_get_parent_run_and_delete_run() -> None:
    with tunetrack.start_run() as parent, tunetrack.start_run(nested=True) as child:
        pass
    found = tunetrack.get_parent_run(child.info.run_id)
    assert found is not None
    assert found.info.run_id == parent.info.run_id
    assert tunetrack.get_parent_run(parent.info.run_id) is None
    tunetrack.delete_run(child.info.run_id)
    assert tunetrack.get_run(child.info.run_id).info.lifecycle_stage == LifecycleStage.DELETED


def test_experiment_tags_go_to_the_active_experiment() -> None:
    experiment = tunetrack.set_experiment("tagged")
    tunetrack.set_experiment_tag("team", "vision")
    tunetrack.set_experiment_tags({"owner": "ana", "priority": 2})
    tags = tunetrack.get_experiment(experiment.experiment_id).tags
    assert {k: tags[k] for k in ("team", "owner", "priority")} == {
        "team": "vision",
        "owner": "ana",
        "priority": "2",
    }


def test_register_model_adds_versions_of_a_logged_model() -> None:
    X, y = load_iris(return_X_y=True)
    with tunetrack.start_run() as run:
        tunetrack.log_model(LogisticRegression(max_iter=300).fit(X, y), "model")
    uri = f"runs:/{run.info.run_id}/model"
    first = tunetrack.register_model(uri, "iris", tags={"stage": "dev"})
    second = tunetrack.register_model(uri, "iris")
    assert (int(first.version), int(second.version)) == (1, 2)
    assert first.run_id == run.info.run_id
    assert first.tags == {"stage": "dev"}
    with pytest.raises(NotFound):
        tunetrack.register_model(f"runs:/{run.info.run_id}/nothing-here", "iris")


def test_client_create_model_version_adds_the_next_version() -> None:
    client = Client()
    run_id = client.create_run("0").info.run_id
    client.create_registered_model("external")
    first = client.create_model_version("external", "s3://bucket/model", run_id, {"k": 1})
    second = client.create_model_version("external", "s3://bucket/v2", description="retrained")
    assert (int(first.version), first.source, first.run_id) == (1, "s3://bucket/model", run_id)
    assert first.tags == {"k": "1"}
    assert (int(second.version), second.description) == (2, "retrained")
    assert client.get_model_version("external", 2).source == "s3://bucket/v2"


def test_search_all_experiments_searches_beyond_the_active_one() -> None:
    ids = []
    for name in ("first", "second"):
        tunetrack.set_experiment(name)
        with tunetrack.start_run() as run:
            ids.append(run.info.run_id)
    assert [r.info.run_id for r in tunetrack.search_runs(output_format="list")] == ids[1:]
    found = tunetrack.search_runs(search_all_experiments=True, output_format="list")
    assert sorted(r.info.run_id for r in found) == sorted(ids)


# -- tables and images ------------------------------------------------------------------
def test_log_table_writes_mlflow_table_json_and_appends_rows() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_table({"x": [1, 2], "label": ["a", "b"]}, "eval/preds.json")
        tunetrack.log_table(pd.DataFrame({"x": [3], "label": ["c"]}), "eval/preds.json")
    table = json.loads(artifact(run.info.run_id, "eval/preds.json"))
    assert table == {"columns": ["x", "label"], "data": [[1, "a"], [2, "b"], [3, "c"]]}
    frame = pd.read_json(io.StringIO(json.dumps(table)), orient="split")
    assert frame["x"].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "file", "message"),
    [
        ({"x": [1, 2], "y": [1]}, "t.json", "same length"),
        ([1, 2, 3], "t.json", "dict of lists or a pandas DataFrame"),
        ({"x": [1]}, "t.csv", "JSON"),
    ],
)
def test_log_table_refuses_what_is_not_a_table(data: object, file: str, message: str) -> None:
    with tunetrack.start_run(), pytest.raises(InvalidInput, match=message):
        tunetrack.log_table(data, file)


def test_log_image_writes_the_pixels_it_was_given() -> None:
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    gray = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    with tunetrack.start_run() as run:
        tunetrack.log_image(rgb, "images/rgb.png")
        tunetrack.log_image(gray, "images/gray.png")
        tunetrack.log_image(Image.fromarray(rgb), "images/photo.jpg")
    decoded = Image.open(io.BytesIO(artifact(run.info.run_id, "images/rgb.png")))
    assert decoded.format == "PNG"
    assert np.array_equal(np.asarray(decoded), rgb)
    decoded = Image.open(io.BytesIO(artifact(run.info.run_id, "images/gray.png")))
    assert np.array_equal(np.asarray(decoded), np.rint(gray * 255).astype(np.uint8))
    photo = Image.open(io.BytesIO(artifact(run.info.run_id, "images/photo.jpg")))
    assert (photo.format, photo.size) == ("JPEG", (5, 4))


@pytest.mark.parametrize(
    ("image", "file", "message"),
    [
        (np.zeros((2, 2, 2)), "a.png", "HxW, HxWx1, HxWx3 or HxWx4"),
        (np.full((2, 2), 1.5), "a.png", "0-1"),
        (np.full((2, 2), 300), "a.png", "0-255"),
        ("not an image", "a.png", "numpy array or a PIL image"),
        (np.zeros((2, 2)), "a.txt", "image extension"),
    ],
)
def test_log_image_refuses_what_it_cannot_draw(image: object, file: str, message: str) -> None:
    with tunetrack.start_run(), pytest.raises(InvalidInput, match=message):
        tunetrack.log_image(image, file)


# -- datasets ---------------------------------------------------------------------------
def iris_frame() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


def test_log_input_records_digest_schema_and_profile() -> None:
    df = iris_frame()
    dataset = tunetrack.data.from_pandas(df, source="iris.csv", targets="target", name="iris")
    with tunetrack.start_run() as run:
        tunetrack.log_input(dataset, context="training", tags={"split": "all"})
    tags = tunetrack.get_run(run.info.run_id).data.tags
    assert tags["dataset.iris.digest"] == dataset.digest
    assert tags["dataset.iris.context"] == "training"
    record = json.loads(artifact(run.info.run_id, "datasets/iris.json"))
    assert record["digest"] == dataset.digest
    assert len(record["digest"]) == 64  # sha256 hex
    assert record["source"] == "iris.csv"
    assert record["targets"] == "target"
    assert record["profile"] == {"rows": 150, "columns": 5}
    assert record["schema"][0] == {"name": "sepal length (cm)", "type": "float64"}
    assert record["schema"][-1] == {"name": "target", "type": "int64"}
    assert (record["context"], record["tags"]) == ("training", {"split": "all"})


DIGEST_SCRIPT = """
from sklearn.datasets import load_iris
import tunetrack
df = load_iris(as_frame=True).frame
X, y = load_iris(return_X_y=True)
print(tunetrack.data.from_pandas(df).digest, tunetrack.data.from_numpy(X, targets=y).digest)
"""


def test_dataset_digest_is_stable_across_processes_and_follows_the_content(
    tmp_path: Path,
) -> None:
    df = iris_frame()
    X, y = load_iris(return_X_y=True)
    here = (tunetrack.data.from_pandas(df).digest, tunetrack.data.from_numpy(X, targets=y).digest)
    proc = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert tuple(proc.stdout.split()) == here
    changed = df.copy()
    changed.iloc[0, 0] += 0.1
    assert tunetrack.data.from_pandas(changed).digest != here[0]
    assert tunetrack.data.from_numpy(X, targets=y[::-1]).digest != here[1]


def test_from_numpy_describes_features_and_targets() -> None:
    X, y = load_iris(return_X_y=True)
    dataset = tunetrack.data.from_numpy(X, targets=y, name="iris-array")
    assert dataset.profile == {"rows": 150, "columns": 4}
    assert dataset.schema == [
        {"name": "features", "type": "float64", "shape": [150, 4]},
        {"name": "targets", "type": str(y.dtype), "shape": [150]},
    ]
    with pytest.raises(InvalidInput, match="targets column"):
        tunetrack.data.from_pandas(iris_frame(), targets="species")
