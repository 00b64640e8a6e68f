"""The fluent API keeps MLflow's names and semantics over a real SQLite store."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

import tunetrack
from tunetrack import Client
from tunetrack.entities import RunStatus
from tunetrack.errors import Conflict, InvalidInput
from tunetrack.store.sql.store import SqlStore


def status_of(run_id: str) -> RunStatus:
    return tunetrack.get_run(run_id).info.status


# -- run lifecycle ---------------------------------------------------------------------
def test_context_manager_finishes_the_run() -> None:
    with tunetrack.start_run() as run:
        assert tunetrack.active_run() is run
        assert status_of(run.info.run_id) == RunStatus.RUNNING
    assert tunetrack.active_run() is None
    info = tunetrack.get_run(run.info.run_id).info
    assert info.status == RunStatus.FINISHED
    assert info.end_time is not None
    assert info.end_time >= info.start_time


@pytest.mark.parametrize(
    ("error", "status"),
    [(ZeroDivisionError, RunStatus.FAILED), (KeyboardInterrupt, RunStatus.KILLED)],
)
def test_exception_ends_the_run_and_propagates(error: type, status: RunStatus) -> None:
    with pytest.raises(error), tunetrack.start_run() as run:
        raise error
    assert status_of(run.info.run_id) == status
    assert tunetrack.active_run() is None


def test_second_run_without_nested_is_refused() -> None:
    with tunetrack.start_run() as outer:
        with pytest.raises(InvalidInput, match="already active"):
            tunetrack.start_run()
        assert tunetrack.active_run() is outer


def test_nested_run_records_its_parent() -> None:
    with tunetrack.start_run() as parent:
        with tunetrack.start_run(nested=True) as child:
            assert tunetrack.active_run() is child
        assert tunetrack.active_run() is parent
    info = tunetrack.get_run(child.info.run_id).info
    assert info.parent_run_id == parent.info.run_id
    assert info.status == RunStatus.FINISHED
    assert status_of(parent.info.run_id) == RunStatus.FINISHED


def test_parent_run_id_nests_under_a_run_of_another_client(tracking_uri: str) -> None:
    other = SqlStore(tracking_uri)  # its own engine: stands in for another process
    try:
        parent = Client(store=other).create_run("0", run_name="sweep")
    finally:
        other.close()
    with tunetrack.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert tunetrack.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    assert status_of(parent.info.run_id) == RunStatus.RUNNING  # not ours to end


def test_run_id_resumes_a_run() -> None:
    with tunetrack.start_run() as first:
        tunetrack.log_param("p", 1)
        tunetrack.log_metric("m", 1.0, step=0)
    run_id = first.info.run_id
    with tunetrack.start_run(run_id=run_id) as again:
        assert again.info.run_id == run_id
        assert status_of(run_id) == RunStatus.RUNNING
        tunetrack.log_metric("m", 2.0, step=1)
    run = tunetrack.get_run(run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.data.params["p"] == "1"
    history = Client().get_metric_history(run_id, "m")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 2.0)]


def test_active_run_and_end_run() -> None:
    assert tunetrack.active_run() is None
    run = tunetrack.start_run()
    assert tunetrack.active_run() is run
    tunetrack.end_run()
    assert tunetrack.active_run() is None
    assert status_of(run.info.run_id) == RunStatus.FINISHED
    second = tunetrack.start_run()
    tunetrack.end_run(status="FAILED")
    assert status_of(second.info.run_id) == RunStatus.FAILED


def test_runs_per_thread_are_independent() -> None:
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[int, tuple[str, str | None]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            run = tunetrack.start_run(run_name=f"thread-{i}")
            barrier.wait()  # both runs are active at the same time
            active = tunetrack.active_run()
            seen[i] = (run.info.run_id, active.info.run_id if active else None)
            barrier.wait()
            tunetrack.end_run()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert all(own == active for own, active in seen.values())
    assert seen[0][0] != seen[1][0]
    assert tunetrack.active_run() is None  # the main thread never had one
    assert {status_of(own) for own, _ in seen.values()} == {RunStatus.FINISHED}


# -- logging: read your writes -----------------------------------------------------------
def test_logging_is_visible_at_once() -> None:
    with tunetrack.start_run() as active:
        run_id = active.info.run_id
        tunetrack.log_metric("loss", 0.5)
        assert tunetrack.get_run(run_id).data.metrics["loss"] == 0.5
        tunetrack.log_metrics({"a": 1.0, "b": 2.0}, step=3)
        tunetrack.log_param("lr", 0.1)
        tunetrack.log_params({"depth": 3, "model": "rf"})
        tunetrack.set_tag("team", "ml")
        tunetrack.set_tags({"x": 1, "y": "two"})
        tunetrack.set_tag("gone", "soon")
        tunetrack.delete_tag("gone")
        data = tunetrack.get_run(run_id).data
        assert (data.metrics["a"], data.metrics["b"]) == (1.0, 2.0)
        assert [p.step for p in Client().get_metric_history(run_id, "a")] == [3]
        assert dict(data.params) == {"lr": "0.1", "depth": "3", "model": "rf"}
        assert [data.tags[k] for k in ("team", "x", "y")] == ["ml", "1", "two"]
        assert "gone" not in data.tags


def test_log_metric_without_a_run_starts_one() -> None:
    assert tunetrack.active_run() is None
    tunetrack.log_metric("m", 3.0)
    active = tunetrack.active_run()
    assert active is not None
    run = tunetrack.get_run(active.info.run_id)
    assert run.data.metrics == {"m": 3.0}
    assert run.info.status == RunStatus.RUNNING


def test_description_and_context_tags() -> None:
    with tunetrack.start_run(description="first try", tags={"k": "v"}) as active:
        pass
    tags = tunetrack.get_run(active.info.run_id).data.tags
    assert tags["tunetrack.note.content"] == "first try"
    assert tags["k"] == "v"
    for key in ("tunetrack.source.name", "tunetrack.user", "tunetrack.host"):
        assert tags[key], key
    assert tags["tunetrack.python_version"] == ".".join(map(str, sys.version_info[:3]))


def test_set_experiment_creates_then_reuses() -> None:
    first = tunetrack.set_experiment("exp-a")
    again = tunetrack.set_experiment("exp-a")
    assert first.experiment_id == again.experiment_id != "0"
    with tunetrack.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id
    names = [e.name for e in tunetrack.search_experiments()]
    assert sorted(names) == ["Default", "exp-a"]
    found = tunetrack.search_experiments(filter_string="name = 'exp-a'")
    assert [e.experiment_id for e in found] == [first.experiment_id]


def test_set_experiment_tolerates_a_concurrent_create(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup = Client.get_experiment_by_name
    created: list[str] = []

    def lookup_then_lose_the_race(self: Client, name: str):  # type: ignore[no-untyped-def]
        found = lookup(self, name)
        if not created:  # another process (its own store) creates it right after our lookup
            other = SqlStore(tracking_uri)
            created.append(other.create_experiment(name))
            other.close()
        return found

    monkeypatch.setattr(Client, "get_experiment_by_name", lookup_then_lose_the_race)
    experiment = tunetrack.set_experiment("raced")
    assert experiment.experiment_id == created[0]


def test_search_runs_frame_and_list() -> None:
    tunetrack.set_experiment("search")
    ids = []
    for i in range(3):
        with tunetrack.start_run() as run:
            tunetrack.log_param("x", i)
            tunetrack.log_metric("y", i / 10)
            tunetrack.set_tag("z", f"t{i}")
        ids.append(run.info.run_id)
    frame = tunetrack.search_runs(order_by=["metrics.y DESC"])
    for column in ("run_id", "status", "params.x", "metrics.y", "tags.z"):
        assert column in frame.columns, column
    assert list(frame["run_id"]) == ids[::-1]
    assert list(frame["params.x"]) == ["2", "1", "0"]
    assert list(frame["metrics.y"]) == [0.2, 0.1, 0.0]
    assert set(frame["status"]) == {"FINISHED"}
    runs = tunetrack.search_runs(filter_string="params.x = '1'", output_format="list")
    assert [r.info.run_id for r in runs] == [ids[1]]
    assert runs[0].data.tags["z"] == "t1"


# -- artifacts ---------------------------------------------------------------------------
def artifact_dir(run_id: str) -> Path:
    return Path(tunetrack.get_run(run_id).info.artifact_uri)


def test_artifacts_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    with tunetrack.start_run() as run:
        tunetrack.log_artifact(src / "a.txt")
        tunetrack.log_artifact(src / "a.txt", artifact_path="copies")
        tunetrack.log_artifacts(src, artifact_path="tree")
        tunetrack.log_text("hello", "notes/hello.txt")
        tunetrack.log_dict({"a": 1, "b": [1, 2]}, "cfg.json")
        tunetrack.log_dict({"a": 1, "b": [1, 2]}, "cfg.yaml")
    run_id = run.info.run_id
    client = Client()
    listing = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    dirs, files = {"copies", "tree", "notes"}, {"a.txt", "cfg.json", "cfg.yaml"}
    assert listing == {(d, True) for d in dirs} | {(f, False) for f in files}
    assert [f.path for f in client.list_artifacts(run_id, "tree/sub")] == ["tree/sub/b.txt"]
    root = artifact_dir(run_id)
    assert (root / "copies" / "a.txt").read_text() == "A"
    assert (root / "notes" / "hello.txt").read_text() == "hello"
    assert json.loads((root / "cfg.json").read_text()) == {"a": 1, "b": [1, 2]}
    assert yaml.safe_load((root / "cfg.yaml").read_text()) == {"a": 1, "b": [1, 2]}
    out = Path(client.download_artifacts(run_id, "tree", tmp_path / "dl"))
    assert (out / "a.txt").read_text() == "A"
    assert (out / "sub" / "b.txt").read_text() == "B"


def test_log_figure_matplotlib_and_plotly() -> None:
    figure_mod = pytest.importorskip("matplotlib.figure")
    go = pytest.importorskip("plotly.graph_objects")
    fig = figure_mod.Figure()
    fig.add_subplot().plot([1, 2, 3], [3, 1, 2])
    pfig = go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[3, 1, 2])])
    with tunetrack.start_run() as run:
        tunetrack.log_figure(fig, "plots/curve.png")
        tunetrack.log_figure(pfig, "plots/curve.html")
        tunetrack.log_figure(pfig, "plots/curve.json")
    root = artifact_dir(run.info.run_id) / "plots"
    assert (root / "curve.png").read_bytes().startswith(b"\x89PNG")
    assert "plotly" in (root / "curve.html").read_text().lower()
    assert json.loads((root / "curve.json").read_text())["data"][0]["y"] == [3, 1, 2]


def test_artifact_path_escape_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "secret-name.txt"
    src.write_text("x")
    with tunetrack.start_run() as run:
        with pytest.raises(InvalidInput):
            tunetrack.log_artifact(src, artifact_path="../x")
        with pytest.raises(InvalidInput):
            tunetrack.log_text("x", "../escaped.txt")
    copies = [p for p in tmp_path.rglob("secret-name.txt") if p != src]
    assert copies == []
    assert list(tmp_path.rglob("escaped.txt")) == []
    assert Client().list_artifacts(run.info.run_id) == []


# -- values and validation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(np.float32(0.5), 0.5), (np.int64(3), 3.0), (np.array(2.0), 2.0), (True, 1.0), (7, 7.0)],
)
def test_numeric_metric_values_are_accepted(value: object, expected: float) -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_metric("v", value)  # type: ignore[arg-type]
        got = tunetrack.get_run(run.info.run_id).data.metrics["v"]
    assert (got, type(got)) == (expected, float)


@pytest.mark.parametrize("value", ["0.5", None, [1.0], np.array([1.0, 2.0])])
def test_non_numeric_metric_values_are_refused(value: object) -> None:
    with tunetrack.start_run() as run:
        with pytest.raises(InvalidInput, match="odd_metric"):
            tunetrack.log_metric("odd_metric", value)  # type: ignore[arg-type]
        assert tunetrack.get_run(run.info.run_id).data.metrics == {}


def test_nan_and_infinities_round_trip() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    metrics = tunetrack.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert (metrics["inf"], metrics["ninf"]) == (math.inf, -math.inf)
    history = Client().get_metric_history(run.info.run_id, "nan")
    assert [math.isnan(p.value) for p in history] == [True]


BAD_KEYS = ["", "k" * 251, "a\nb", "../x"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=["empty", "251", "newline", "dotdot"])
def test_bad_keys_are_refused(key: str) -> None:
    with tunetrack.start_run() as run:
        with pytest.raises(InvalidInput):
            tunetrack.log_metric(key, 1.0)
        with pytest.raises(InvalidInput):
            tunetrack.log_param(key, 1)
        with pytest.raises(InvalidInput):
            tunetrack.set_tag(key, 1)
        data = tunetrack.get_run(run.info.run_id).data
    assert (data.metrics, data.params) == ({}, {})
    assert not [k for k in data.tags if not k.startswith("tunetrack.")]


@pytest.mark.parametrize("key", [["a"], {"a": 1}], ids=["list", "dict"])
def test_unhashable_keys_are_invalid_input(key: object) -> None:
    with tunetrack.start_run(), pytest.raises(InvalidInput):
        tunetrack.log_metric(key, 1.0)  # type: ignore[arg-type]


def test_steps_must_be_integers() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_metric("s", 1.0, step=np.int64(4))
        with pytest.raises(InvalidInput, match="step"):
            tunetrack.log_metric("s", 2.0, step=1.5)  # type: ignore[arg-type]
    history = Client().get_metric_history(run.info.run_id, "s")
    assert [(p.step, p.value) for p in history] == [(4, 1.0)]


def test_timestamps_are_whole_milliseconds_and_bad_ones_are_refused() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_metric("t", 1.0, timestamp=1_700_000_000_000.7)  # type: ignore[arg-type]
        tunetrack.log_metric("t", 2.0, step=1, timestamp=np.int64(1_700_000_000_001))
        for bad in (math.nan, "soon"):
            with pytest.raises(InvalidInput, match="'t' timestamp"):
                tunetrack.log_metric("t", 3.0, step=2, timestamp=bad)  # type: ignore[arg-type]
    history = Client().get_metric_history(run.info.run_id, "t")
    assert [(p.timestamp, p.value) for p in history] == [
        (1_700_000_000_000, 1.0),
        (1_700_000_000_001, 2.0),
    ]


def test_length_limits_are_inclusive() -> None:
    key = "k" * 250
    with tunetrack.start_run() as run:
        tunetrack.log_metric(key, 1.0)
        tunetrack.log_param(key, "v" * 6000)
        with pytest.raises(InvalidInput, match="too_long"):
            tunetrack.log_param("too_long", "v" * 6001)
    data = tunetrack.get_run(run.info.run_id).data
    assert (data.metrics, data.params) == ({key: 1.0}, {key: "v" * 6000})


def test_params_are_immutable() -> None:
    with tunetrack.start_run() as run:
        tunetrack.log_param("lr", 0.1)
        tunetrack.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(Conflict):
            tunetrack.log_param("lr", 0.2)
        with pytest.raises(Conflict):
            tunetrack.log_params({"lr": 0.3, "other": 1})
    params = tunetrack.get_run(run.info.run_id).data.params
    assert params == {"lr": "0.1"}  # the batch with a clash wrote nothing


# -- porting a script by changing its import -----------------------------------------------
PORT_SCRIPT = """\
import sys
import tunetrack as mlflow

path = sys.argv[1]
mlflow.set_experiment("port")
with mlflow.start_run():
    mlflow.log_param("lr", 0.1)
    for i in range(5):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.log_artifact(path)
"""


def test_mlflow_style_script_ports_by_changing_the_import(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(PORT_SCRIPT)
    data_file = tmp_path / "model.txt"
    data_file.write_text("weights")
    uri = f"sqlite:///{tmp_path}/port.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env["TUNETRACK_TRACKING_URI"] = uri
    cmd = [sys.executable, str(script), str(data_file)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    client = Client(uri)
    experiment = client.get_experiment_by_name("port")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == RunStatus.FINISHED
    assert dict(run.data.params) == {"lr": "0.1"}
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(p.step, p.value) for p in history] == [(i, 1.0 / (i + 1)) for i in range(5)]
    assert run.data.metrics["loss"] == 0.2
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["model.txt"]
    assert Path(run.info.artifact_uri, "model.txt").read_text() == "weights"
    assert run.data.tags["tunetrack.source.name"] == str(script)
