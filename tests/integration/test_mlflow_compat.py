"""The real ``mlflow`` client against a real tunetrack server (its MLflow-compatible API).

Each test starts a ``tunetrack server`` process on 127.0.0.1 over a fresh SQLite store in
``tmp_path``. What mlflow logs, tunetrack reads (through the server, and straight from the
SQLite file and the artifact directory), and the reverse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# Before mlflow is imported: its telemetry starts at import and would call out.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from rest_servers import RestServers, stop_server  # noqa: E402
from tunetrack.entities import RunStatus  # noqa: E402
from tunetrack.store.sql.store import SqlStore  # noqa: E402
from tunetrack.store.uri import open_artifacts  # noqa: E402
from tunetrack.tracking.client import Client  # noqa: E402

_MLFLOW_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # a refused request fails at once
}


@pytest.fixture
def server(rest_servers: RestServers, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh tunetrack server over ``tmp_path/tunetrack.db``."""
    url, pid = rest_servers.start(tmp_path / "tunetrack.db", tmp_path / "artifacts")
    try:
        yield url
    finally:
        stop_server(pid)


@pytest.fixture
def mlflow_server(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``server``, set as mlflow's tracking URI; no mlflow run is left active afterwards."""
    for name, value in _MLFLOW_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(server)
    try:
        yield server
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)


@pytest.fixture
def tunetrack_client(server: str) -> Iterator[Client]:
    """tunetrack's Client talking to ``server`` (RestStore)."""
    client = Client(server)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def sql_store(server: str, tmp_path: Path) -> Iterator[SqlStore]:
    """The server's own database, opened directly."""
    store = SqlStore(f"sqlite:///{tmp_path}/tunetrack.db")
    try:
        yield store
    finally:
        store.close()


def _model_dir(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "weights.bin").write_bytes(b"\x00\x01weights")
    return model


def test_what_mlflow_logs_tunetrack_reads(
    mlflow_server: str, tunetrack_client: Client, sql_store: SqlStore, tmp_path: Path
) -> None:
    experiment = mlflow.set_experiment("from-mlflow")
    report = tmp_path / "report.txt"
    report.write_bytes(b"accuracy 0.93\n")
    with mlflow.start_run(run_name="mlflow-run") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "model": "rf"})
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.set_tag("team", "vision")
        mlflow.log_artifact(str(report))
        mlflow.log_artifact(str(report), artifact_path="reports/final")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("inner", 1.5)
    run_id = run.info.run_id

    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment.experiment_id}"
    seen = tunetrack_client.get_run(run_id)
    assert seen.info.experiment_id == experiment.experiment_id
    assert seen.info.run_name == "mlflow-run"
    assert seen.info.status is RunStatus.FINISHED
    assert seen.info.end_time is not None
    assert seen.data.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert seen.data.metrics == {"loss": 0.25}
    assert seen.data.tags["team"] == "vision"
    history = tunetrack_client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert tunetrack_client.get_run(child.info.run_id).info.parent_run_id == run_id
    assert tunetrack_client.get_experiment_by_name("from-mlflow").experiment_id == (
        experiment.experiment_id
    )

    # Through tunetrack's proxy, and on disk under the server's artifact root: the same files.
    assert tunetrack_client.list_artifacts(run_id, "reports/final")[0].path == (
        "reports/final/report.txt"
    )
    downloaded = tunetrack_client.download_artifacts(run_id, "report.txt", tmp_path / "dl")
    assert Path(downloaded).read_bytes() == b"accuracy 0.93\n"
    on_disk = tmp_path / "artifacts" / experiment.experiment_id / run_id / "reports/final"
    assert (on_disk / "report.txt").read_bytes() == b"accuracy 0.93\n"

    stored = sql_store.get_run(run_id)
    assert stored.info.artifact_uri == f"tunetrack-artifacts:/{experiment.experiment_id}/{run_id}"
    assert stored.data.params["lr"] == "0.1"
    assert [m.value for m in sql_store.get_metric_history(run_id, "loss")] == [0.9, 0.5, 0.25]


def test_what_tunetrack_logs_mlflow_reads(
    mlflow_server: str, tunetrack_client: Client, tmp_path: Path
) -> None:
    experiment_id = tunetrack_client.create_experiment("from-tunetrack")
    parent = tunetrack_client.create_run(experiment_id, run_name="sweep")
    run = tunetrack_client.create_run(
        experiment_id, run_name="trial-0", parent_run_id=parent.info.run_id
    )
    run_id = run.info.run_id
    tunetrack_client.log_param(run_id, "n_estimators", 100)
    for step in range(4):
        tunetrack_client.log_metric(run_id, "acc", 0.5 + step / 10, step=step)
    tunetrack_client.set_tag(run_id, "stage", "trial")
    tunetrack_client.log_text(run_id, "hello from tunetrack", "notes/hello.txt")
    tunetrack_client.set_terminated(run_id, "FINISHED")
    tunetrack_client.flush()

    client = MlflowClient()
    seen = client.get_run(run_id)
    assert seen.info.run_name == "trial-0"
    assert seen.info.status == "FINISHED"
    assert seen.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}"
    assert seen.data.params == {"n_estimators": "100"}
    assert seen.data.metrics == {"acc": pytest.approx(0.8)}
    assert seen.data.tags["stage"] == "trial"
    assert seen.data.tags["mlflow.runName"] == "trial-0"
    assert seen.data.tags["mlflow.parentRunId"] == parent.info.run_id
    history = client.get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in history] == [
        (0, 0.5),
        (1, pytest.approx(0.6)),
        (2, pytest.approx(0.7)),
        (3, pytest.approx(0.8)),
    ]
    assert all(m.timestamp > 0 for m in history)

    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [("notes", True)]
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/hello.txt"]
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="notes/hello.txt", dst_path=str(tmp_path / "dl")
    )
    assert Path(local).read_text() == "hello from tunetrack"

    frame = mlflow.search_runs(experiment_ids=[experiment_id], filter_string="metrics.acc > 0.7")
    assert list(frame["run_id"]) == [run_id]
    assert frame.loc[0, "params.n_estimators"] == "100"


def test_mlflow_search_runs_filters_sorts_and_pages(mlflow_server: str) -> None:
    experiment = mlflow.set_experiment("search")
    ids = {}
    for name, acc in [("low", 0.2), ("mid", 0.6), ("high", 0.9)]:
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_metric("acc", acc)
            mlflow.log_param("kind", "tree" if acc > 0.5 else "linear")
        ids[name] = run.info.run_id

    client = MlflowClient()
    trees = client.search_runs(
        [experiment.experiment_id], "params.kind = 'tree'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_id for r in trees] == [ids["high"], ids["mid"]]

    first = client.search_runs([experiment.experiment_id], max_results=2, order_by=["metrics.acc"])
    assert [r.info.run_id for r in first] == [ids["low"], ids["mid"]]
    assert first.token
    rest = client.search_runs(
        [experiment.experiment_id], max_results=2, order_by=["metrics.acc"], page_token=first.token
    )
    assert [r.info.run_id for r in rest] == [ids["high"]]
    assert rest.token is None

    names = [e.name for e in client.search_experiments(filter_string="name = 'search'")]
    assert names == ["search"]


def test_metric_history_pages_with_max_results(mlflow_server: str) -> None:
    mlflow.set_experiment("history")
    with mlflow.start_run() as run:
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    url = f"{mlflow_server}/api/2.0/mlflow/metrics/get-history"
    steps, token, pages = [], None, 0
    while True:
        query = {"run_id": run.info.run_id, "metric_key": "loss", "max_results": 2}
        body = httpx.get(url, params=query | ({"page_token": token} if token else {})).json()
        steps += [int(m["step"]) for m in body["metrics"]]
        pages += 1
        token = body.get("next_page_token")
        if token is None:
            break
    assert (steps, pages) == ([0, 1, 2, 3, 4], 3)


def test_mlflow_registers_models_and_aliases_that_tunetrack_reads(
    mlflow_server: str, tunetrack_client: Client, sql_store: SqlStore, tmp_path: Path
) -> None:
    experiment = mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(_model_dir(tmp_path)), artifact_path="model")
    run_id = run.info.run_id

    first = mlflow.register_model(f"runs:/{run_id}/model", "classifier")
    second = mlflow.register_model(f"runs:/{run_id}/model", "classifier")  # model exists
    assert (first.version, second.version) == ("1", "2")
    client = MlflowClient()
    client.set_registered_model_alias("classifier", "champion", "1")
    client.create_registered_model("other", description="made by MlflowClient")
    made = client.create_model_version("other", f"runs:/{run_id}/model", run_id=run_id)
    assert made.version == "1"

    assert client.get_model_version_by_alias("classifier", "champion").version == "1"
    assert client.get_registered_model("classifier").aliases == {"champion": "1"}
    assert [v.version for v in client.search_model_versions("name = 'classifier'")] == ["2", "1"]
    tunetrack_client.create_registered_model("a-prompt", tags={"mlflow.prompt.is_prompt": "true"})
    assert [m.name for m in client.search_registered_models()] == ["classifier", "other"]
    assert [m.name for m in client.search_registered_models("name LIKE 'oth%'")] == ["other"]
    model_file = mlflow.artifacts.download_artifacts(
        "models:/classifier@champion/MLmodel", dst_path=str(tmp_path / "dl")
    )
    assert Path(model_file).read_text() == "flavors: {}\n"

    source = f"tunetrack-artifacts:/{experiment.experiment_id}/{run_id}/model"
    assert sql_store.get_model_version("classifier", 1).source == source
    assert tunetrack_client.get_model_version_by_alias("classifier", "champion").version == 1
    version = tunetrack_client.get_model_version("classifier", 2)
    assert version.run_id == run_id
    assert open_artifacts(version.source).read_bytes("weights.bin") == b"\x00\x01weights"
    assert tunetrack_client.get_registered_model("other").description == "made by MlflowClient"

    client.delete_registered_model_alias("classifier", "champion")
    with pytest.raises(MlflowException) as missing:
        client.get_model_version_by_alias("classifier", "champion")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_mlflow_client_gets_mlflow_error_codes(mlflow_server: str) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    experiment_id = client.create_experiment("errors")
    with pytest.raises(MlflowException) as duplicate:
        client.create_experiment("errors")
    assert duplicate.value.error_code == "RESOURCE_ALREADY_EXISTS"

    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "lr", "0.2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {"lr": "0.1"}

    with pytest.raises(MlflowException) as bad_filter:
        client.search_runs([experiment_id], "metrics.acc >>> 1")
    assert bad_filter.value.error_code == "INVALID_PARAMETER_VALUE"


def test_mlflow_run_name_tag_renames_the_run_and_a_bad_name_writes_nothing(
    mlflow_server: str, tunetrack_client: Client
) -> None:
    client = MlflowClient()
    run_id = client.create_run("0", run_name="first").info.run_id
    client.set_tag(run_id, "mlflow.runName", "second")
    assert tunetrack_client.get_run(run_id).info.run_name == "second"

    with pytest.raises(MlflowException) as too_long:
        client.log_batch(run_id, tags=[RunTag("mlflow.runName", "x" * 251), RunTag("k", "v")])
    assert too_long.value.error_code == "INVALID_PARAMETER_VALUE"
    run = tunetrack_client.get_run(run_id)
    assert (run.info.run_name, "k" in run.data.tags) == ("second", False)
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "second"


@pytest.mark.parametrize(
    ("metrics", "params", "tags"),
    [(1001, 0, 0), (0, 101, 0), (0, 0, 101), (900, 100, 1)],
    ids=["metrics", "params", "tags", "total"],
)
def test_log_batch_over_mlflow_limits_is_refused_whole(
    server: str, metrics: int, params: int, tags: int
) -> None:
    api = f"{server}/api/2.0/mlflow"
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": "0", "start_time": 1}).json()
    run_id = run["run"]["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(metrics)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(tags)],
    }
    refused = httpx.post(f"{api}/runs/log-batch", json=batch)
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    data = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert (data["metrics"], data["params"]) == ([], [])
    at_limit = {"run_id": run_id, "metrics": batch["metrics"][:1000]}
    assert httpx.post(f"{api}/runs/log-batch", json=at_limit).status_code == 200


_MLFLOW_ONLY_SCRIPT = """
import mlflow

mlflow.set_experiment("objective")
with mlflow.start_run(run_name="trial") as run:
    mlflow.log_params({"lr": 0.01, "layers": 2})
    for epoch in range(3):
        mlflow.log_metrics({"val_loss": 1.0 / (epoch + 1), "epoch_time": 0.5}, step=epoch)
    mlflow.set_tag("objective", "done")
print(run.info.run_id)
"""


def test_script_logging_only_through_mlflow_lands_in_tunetrack(
    server: str, tunetrack_client: Client, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNETRACK_", "MLFLOW_"))}
    env |= _MLFLOW_ENV | {"MLFLOW_TRACKING_URI": server}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MLFLOW_ONLY_SCRIPT)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]

    experiment = tunetrack_client.get_experiment_by_name("objective")
    assert experiment is not None
    (run,) = tunetrack_client.search_runs([experiment.experiment_id], "metrics.val_loss < 0.5")
    assert run.info.run_id == run_id
    assert run.info.status is RunStatus.FINISHED
    assert run.data.params == {"lr": "0.01", "layers": "2"}
    assert run.data.tags["objective"] == "done"
    history = tunetrack_client.get_metric_history(run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]


def test_unimplemented_mlflow_endpoint_is_endpoint_not_found(server: str) -> None:
    missing = httpx.post(f"{server}/api/2.0/mlflow/logged-models", json={})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    default = httpx.get(
        f"{server}/ajax-api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "Default"},
    )
    assert default.json()["experiment"]["experiment_id"] == "0"
