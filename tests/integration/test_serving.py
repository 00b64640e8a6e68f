"""Model serving: ``tunetrack models serve`` as a real process, plus the registry it reads.

A RandomForest trained on iris (named columns) is logged with ``tunetrack.models.log_model``
and registered twice over (version 1 a forest, version 2 a logistic regression), with
``champion`` on version 1. The server is started on a free port of 127.0.0.1 and polled
until ``/health`` answers (the ``serve_model`` fixture of tests/integration/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import tunetrack
from tunetrack import models
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import ModelServer, ServeModel

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

NAME = "iris-rf"
REQUEST_S = 30


@dataclass
class Registry:
    uri: str
    features: pd.DataFrame
    forest: Any  # version 1, champion
    logistic: Any  # version 2


def _iris() -> tuple[pd.DataFrame, Any]:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.data, data.target


@contextlib.contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """Point the fluent API at ``uri`` for the block."""
    tunetrack.set_tracking_uri(uri)
    try:
        yield
    finally:
        while tunetrack.active_run() is not None:
            tunetrack.end_run()
        tunetrack.set_tracking_uri(None)


def _log(model: Any, name: str, **kwargs: Any) -> models.ModelInfo:
    """``log_model`` into a new run of the current tracking URI."""
    with tunetrack.start_run() as run:
        return models.log_model(model, name, run_id=run.info.run_id, **kwargs)


def test_log_model_into_the_active_run(tmp_path: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    features, target = _iris()
    with _tracking(f"sqlite:///{tmp_path}/active.db"), tunetrack.start_run() as run:
        info = models.log_model(DecisionTreeClassifier().fit(features, target), "model")
    assert info.run_id == run.info.run_id


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{root}/serving.db"
    features, target = _iris()
    forest = RandomForestClassifier(n_estimators=20, max_depth=2, random_state=0)
    forest.fit(features, target)
    logistic = LogisticRegression(max_iter=500).fit(features, target)
    with _tracking(uri):
        for model in (forest, logistic):
            info = _log(model, "model", input_example=features.head(), registered_model_name=NAME)
            assert info.flavor == "sklearn"
        Client(uri).set_registered_model_alias(NAME, "champion", 1)
        yield Registry(uri, features, forest, logistic)


@pytest.fixture(scope="module")
def server(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, serve_model: ServeModel
) -> Iterator[ModelServer]:
    out_dir = tmp_path_factory.mktemp("server")
    with serve_model(registry.uri, f"models:/{NAME}@champion", out_dir) as running:
        yield running


def _expected(registry: Registry, frame: pd.DataFrame | None = None) -> list[Any]:
    frame = registry.features if frame is None else frame
    return registry.forest.predict(frame).tolist()


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    if status == 400:
        assert body["error_code"] == "INVALID_PARAMETER"
    return body["message"]


# -- the running server ----------------------------------------------------------------------
def test_health(server: ModelServer) -> None:
    body = httpx.get(f"{server.url}/health", timeout=REQUEST_S).json()
    assert body["status"] == "ok"
    assert body["model_uri"] == f"models:/{NAME}@champion"
    assert body["flavor"] == "sklearn"
    assert body["model_version"] == 1
    assert body["resolved_uri"] == f"models:/{NAME}/1"


def test_dataframe_records(server: ModelServer, registry: Registry) -> None:
    records = registry.features.to_dict(orient="records")
    response = server.post({"dataframe_records": records})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": _expected(registry)}


def test_dataframe_split(server: ModelServer, registry: Registry) -> None:
    split = registry.features.to_dict(orient="split", index=False)
    response = server.post({"dataframe_split": split})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == _expected(registry)


def test_dataframe_split_in_another_column_order(server: ModelServer, registry: Registry) -> None:
    shuffled = registry.features[list(reversed(registry.features.columns))]
    split = shuffled.head(20).to_dict(orient="split", index=False)
    response = server.post({"dataframe_split": split})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == _expected(registry, registry.features.head(20))


def test_instances_as_rows_and_as_records(server: ModelServer, registry: Registry) -> None:
    rows = registry.features.to_numpy().tolist()
    response = server.post({"instances": rows})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == _expected(registry)
    records = registry.features.head(10).to_dict(orient="records")
    response = server.post({"instances": records})
    assert response.json()["predictions"] == _expected(registry, registry.features.head(10))


def test_integers_in_float_columns_are_accepted(server: ModelServer, registry: Registry) -> None:
    row = {c: 5 for c in registry.features.columns}
    response = server.post({"dataframe_records": [row]})
    assert response.status_code == 200, response.text
    frame = pd.DataFrame([row]).astype("float64")
    assert response.json()["predictions"] == _expected(registry, frame)


def test_missing_column_is_400_naming_it(server: ModelServer, registry: Registry) -> None:
    records = registry.features.drop(columns=["petal width (cm)"]).head(3)
    message = _error(server.post({"dataframe_records": records.to_dict(orient="records")}))
    assert "missing" in message
    assert "petal width (cm)" in message


def test_extra_column_is_400_naming_it(server: ModelServer, registry: Registry) -> None:
    split = registry.features.head(3).assign(colour=1.0).to_dict(orient="split", index=False)
    message = _error(server.post({"dataframe_split": split}))
    assert "colour" in message
    assert "unexpected" in message


def test_wrong_width_of_instances_is_400(server: ModelServer) -> None:
    message = _error(server.post({"instances": [[1.0, 2.0, 3.0]]}))
    assert "4 columns" in message
    assert "sepal length (cm)" in message


def test_text_in_a_float_column_is_400(server: ModelServer, registry: Registry) -> None:
    row = {**registry.features.iloc[0].to_dict(), "sepal width (cm)": "wide"}
    message = _error(server.post({"dataframe_records": [row]}))
    assert "sepal width (cm)" in message


def test_record_missing_a_key_is_400(server: ModelServer, registry: Registry) -> None:
    rows = registry.features.head(2).to_dict(orient="records")
    del rows[1]["petal length (cm)"]
    message = _error(server.post({"dataframe_records": rows}))
    assert "dataframe_records[1]" in message
    assert "petal length (cm)" in message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'{"inputs": [[1, 2, 3, 4]]}', "'inputs'"),
        (b"{}", "exactly one of"),
        (b'{"instances": [[1, 2, 3, 4]], "dataframe_records": []}', "exactly one of"),
        (b'{"dataframe_records": "rows"}', "non-empty list"),
        (b'{"dataframe_records": [[1, 2, 3, 4]]}', "JSON objects"),
        (b'{"dataframe_split": {"data": [[1, 2], [1]]}}', "different lengths"),
        (b'{"dataframe_split": {"columns": ["a"], "rows": []}}', "'rows'"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="deep-arrays"),
        pytest.param(b'{"a": ' * 100_000, "nested too deeply", id="deep-objects"),
        pytest.param(b'{"instances": [[' + b"1" * 5000 + b"]]}", "not valid JSON", id="long-int"),
        pytest.param(b'{"instances": [{"\\ud800": 1}]}', "not valid Unicode", id="surrogate"),
    ],
)
def test_malformed_requests_are_400(server: ModelServer, content: bytes, needle: str) -> None:
    message = _error(server.post(content=content))
    assert needle in message


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-www-form-urlencoded"])
def test_a_body_sent_as_another_content_type_is_415(server: ModelServer, content_type: str) -> None:
    response = httpx.post(
        f"{server.url}/invocations",
        content=b'{"instances": [[1, 2, 3, 4]]}',
        headers={"Content-Type": content_type},
        timeout=REQUEST_S,
    )
    assert content_type in _error(response, 415)
    assert "application/json" in response.json()["message"]


# -- request limits ----------------------------------------------------------------------------
LIMIT = 1024 * 1024  # the limited server's --max-body-size 1MB
OVERSIZED = 64 * LIMIT  # more than the kernel buffers between client and server hold


@pytest.fixture(scope="module")
def limited(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, serve_model: ServeModel
) -> Iterator[ModelServer]:
    out_dir = tmp_path_factory.mktemp("limited")
    uri = f"models:/{NAME}@champion"
    with serve_model(registry.uri, uri, out_dir, "--max-body-size", "1MB") as running:
        yield running


class _Counted:
    """A lazily made body of ``size`` bytes (64 KiB chunks) counting what was taken from it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b" " * 65536
        while self.taken < self.size:
            self.taken += len(chunk)
            yield chunk


def _assert_413_before_the_body_was_read(
    server: ModelServer, body: _Counted, limit: str = "1 MiB", **headers: str
) -> None:
    response = httpx.post(
        f"{server.url}/invocations",
        content=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=REQUEST_S,
    )
    assert limit in _error(response, 413)
    assert "--max-body-size" in response.json()["message"]
    assert body.taken < body.size  # answered with most of the body never sent
    assert server.health()["status"] == "ok"


def test_body_declared_over_max_body_size_is_413_before_it_is_read(limited: ModelServer) -> None:
    body = _Counted(OVERSIZED)
    _assert_413_before_the_body_was_read(limited, body, **{"Content-Length": str(body.size)})


def test_without_max_body_size_a_body_over_100_mib_is_413_before_it_is_read(
    server: ModelServer,
) -> None:
    """The default limit: a server started with no --max-body-size refuses 101 MiB
    (declared) having read little of it, and goes on answering."""
    body = _Counted(101 << 20)
    headers = {"Content-Length": str(body.size)}
    _assert_413_before_the_body_was_read(server, body, "100 MiB", **headers)


def test_chunked_body_over_max_body_size_is_413_once_the_limit_is_passed(
    limited: ModelServer,
) -> None:
    _assert_413_before_the_body_was_read(limited, _Counted(OVERSIZED))  # no Content-Length


def test_body_at_max_body_size_is_read(limited: ModelServer) -> None:
    row = b"[5.1, 3.5, 1.4, 0.2]"
    rows = b", ".join([row] * ((LIMIT - 20) // (len(row) + 2)))
    content = b'{"instances": [' + rows + b"]}"
    content += b" " * (LIMIT - len(content))
    response = limited.post(content=content)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == rows.count(b"[")


def test_health_answers_while_a_large_body_is_parsed(server: ModelServer) -> None:
    """A 30 MB body takes the server a while to parse; /health must not wait for it."""
    rows = ", ".join(f"[{i}.5, {i}.25, {i}.125, {i}.75]" for i in range(700_000)).encode()
    step = 1 << 20
    pieces = [b"[", *(rows[i : i + step] for i in range(0, len(rows), step)), b"]"]
    sent, finished = threading.Event(), []

    def chunks() -> Iterator[bytes]:
        yield from pieces
        sent.set()  # every piece has been written to the socket

    def post_large() -> None:
        size = str(sum(map(len, pieces)))
        headers = {"Content-Type": "application/json", "Content-Length": size}
        url = f"{server.url}/invocations"
        response = httpx.post(url, content=chunks(), headers=headers, timeout=REQUEST_S)
        finished.append(("large", response.status_code))

    poster = threading.Thread(target=post_large)
    poster.start()
    try:
        assert sent.wait(REQUEST_S)
        health = httpx.get(f"{server.url}/health", timeout=REQUEST_S)
        finished.append(("health", health.status_code))
    finally:
        poster.join(REQUEST_S)
    # the large body is a JSON list, not an object: a 400 once it has been parsed
    assert finished == [("health", 200), ("large", 400)]


def test_unknown_route_is_json_404(server: ModelServer) -> None:
    response = httpx.get(f"{server.url}/nope", timeout=REQUEST_S)
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_NOT_FOUND"


# -- the registry behind models:/ URIs ---------------------------------------------------------
def test_moving_an_alias_is_seen_by_the_next_load(registry: Registry, server: ModelServer) -> None:
    client = Client(registry.uri)
    sample = registry.features.iloc[::7]
    with _tracking(registry.uri):
        before = models.load_model(f"models:/{NAME}@champion")
        assert before.predict(sample).tolist() == registry.forest.predict(sample).tolist()
        client.set_registered_model_alias(NAME, "champion", 2)
        try:
            after = models.load_model(f"models:/{NAME}@champion")
            assert type(after).__name__ == "LogisticRegression"
            assert after.predict_proba(sample).tolist() == (
                registry.logistic.predict_proba(sample).tolist()
            )
            # a running server keeps the version it pinned at startup
            health = httpx.get(f"{server.url}/health", timeout=REQUEST_S).json()
            assert health["model_version"] == 1
        finally:
            client.set_registered_model_alias(NAME, "champion", 1)
        again = models.load_model(f"models:/{NAME}@champion")
        assert type(again).__name__ == "RandomForestClassifier"


def test_stage_transitions_and_latest(registry: Registry) -> None:
    from sklearn.tree import DecisionTreeClassifier

    name = "iris-stages"
    client = Client(registry.uri)
    features = registry.features
    target = registry.forest.predict(features)
    trees = [
        DecisionTreeClassifier(max_depth=d, random_state=0).fit(features, target) for d in (1, 3)
    ]
    with _tracking(registry.uri):
        for tree in trees:
            _log(tree, "model", registered_model_name=name)
        client.transition_model_version_stage(name, 1, "Production")
        client.transition_model_version_stage(name, 2, "Production", archive_existing_versions=True)
        production = client.search_model_versions(
            f"name = '{name}' and current_stage = 'Production'"
        )
        assert [v.version for v in production] == [2]
        assert client.get_model_version(name, 1).current_stage.value == "Archived"
        latest = models.load_model(f"models:/{name}/latest")
        assert latest.get_depth() == trees[1].get_depth()
        assert models.load_model(f"models:/{name}/1").get_depth() == trees[0].get_depth()
        # a new version is "latest" at once, whatever its stage
        info = _log(trees[0], "model", registered_model_name=name)
        assert info.registered_version == 3
        assert models.load_model(f"models:/{name}/latest").get_depth() == trees[0].get_depth()
        assert client.get_latest_version(name).current_stage.value == "None"


def test_serving_a_stage_uri_serves_the_version_in_that_stage(
    registry: Registry, tmp_path: Path, serve_model: ServeModel
) -> None:
    name = "iris-production"
    client = Client(registry.uri)
    with _tracking(registry.uri):
        for model in (registry.forest, registry.logistic):
            _log(model, "model", input_example=registry.features.head(), registered_model_name=name)
    client.transition_model_version_stage(name, 1, "Production")
    with serve_model(registry.uri, f"models:/{name}/Production", tmp_path) as running:
        health = running.health()
        assert (health["model_version"], health["resolved_uri"]) == (1, f"models:/{name}/1")
        records = registry.features.to_dict(orient="records")
        response = running.post({"dataframe_records": records})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": _expected(registry)}


# -- the app in-process (no signature, positional signature) -----------------------------------
class _InProcess:
    """Requests to an app in this process (httpx over ASGI, no socket)."""

    def __init__(self, model_uri: str) -> None:
        from tunetrack.models.serving import create_app

        self.app = create_app(model_uri)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                return await http.request(method, path, **kwargs)

        return asyncio.run(go())


def test_model_without_signature_takes_any_rows(registry: Registry) -> None:
    with _tracking(registry.uri):
        info = _log(registry.forest, "unsigned")
    with _tracking(registry.uri):
        app = _InProcess(info.model_uri)
    health = app.request("GET", "/health").json()
    assert health["model_version"] is None
    assert health["signature"] is None
    rows = registry.features.head(5)
    response = app.request(
        "POST", "/invocations", json={"dataframe_records": rows.to_dict("records")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == _expected(registry, rows)


def test_positional_signature_counts_columns(registry: Registry) -> None:
    from sklearn.tree import DecisionTreeClassifier

    array = registry.features.to_numpy()
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        array, registry.forest.predict(registry.features)
    )
    with _tracking(registry.uri):
        info = _log(tree, "positional", signature=models.infer_signature(array))
    with _tracking(registry.uri):
        app = _InProcess(info.model_uri)
    response = app.request("POST", "/invocations", json={"instances": array[:4].tolist()})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == tree.predict(array[:4]).tolist()
    wrong = app.request("POST", "/invocations", json={"instances": [[1.0, 2.0]]})
    assert wrong.status_code == 400
    assert "expected 4 columns, got 2" in wrong.json()["message"]
