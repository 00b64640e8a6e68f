"""The fluent API and the registry, unchanged, against a tracking server: artifacts and models
go through the server's proxy (the client needs no access to where they are kept)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tunetrack
from rest_servers import RestServers, stop_server
from tunetrack.models import load_model
from tunetrack.tracking.client import Client


@pytest.fixture
def server(
    rest_servers: RestServers, isolated_tracking: str, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """A fresh server set as the tracking URI: its URL and artifact directory."""
    (tmp_path / "server").mkdir()
    artifacts = tmp_path / "server" / "artifacts"
    url, pid = rest_servers.start(tmp_path / "server" / "tunetrack.db", artifacts)
    tunetrack.set_tracking_uri(url)
    try:
        yield url, artifacts
    finally:
        stop_server(pid)


def test_fluent_logging_models_and_the_registry_work_through_a_server(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    url, artifacts = server
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    notes = tmp_path / "notes.md"
    notes.write_text("# notes")
    tunetrack.set_experiment("through-the-server")
    with tunetrack.start_run() as run:
        tunetrack.log_param("C", 1.0)
        for step in range(20):
            tunetrack.log_metric("loss", 1.0 / (step + 1), step=step)
        tunetrack.log_artifact(str(notes), "docs")
        tunetrack.log_dict({"classes": 3}, "meta/info.json")
        info = tunetrack.log_model(model, "model", registered_model_name="iris-lr")

    found = {p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*") if p.is_file()}
    experiment_id = run.info.experiment_id
    prefix = f"{experiment_id}/{run.info.run_id}/"
    assert f"{prefix}docs/notes.md" in found
    assert f"{prefix}meta/info.json" in found
    assert f"{prefix}model/model.yaml" in found
    assert run.info.artifact_uri == f"{url}/api/artifacts/{experiment_id}/{run.info.run_id}"

    client = Client()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(20))
    assert info.registered_version == 1
    for uri in ("models:/iris-lr/1", f"runs:/{run.info.run_id}/model"):
        assert load_model(uri).predict(X[:5]).tolist() == model.predict(X[:5]).tolist()
    copied = client.download_artifacts(run.info.run_id, "docs", tmp_path / "copy")
    assert (Path(copied) / "notes.md").read_text() == "# notes"
    assert client.get_model_version("iris-lr", 1).manifest_sha256 is not None
    assert not (tmp_path / "tunetrack-artifacts").exists()  # the client's directory
