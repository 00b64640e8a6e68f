"""The tunetrack REST API of a real server process: documented in /openapi.json, JSON errors
with the right status for every mistake, the streamed artifact proxy and its path checks,
and the body-size limits."""

from __future__ import annotations

import hashlib
import http.client
import inspect
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Match

from rest_servers import RestServers, stop_server
from tunetrack.server.api import runs
from tunetrack.server.app import create_app
from tunetrack.store.base import Store

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import StartServer

#: Every operation of the Store interface -> its route (method, path).
ROUTES = {
    "create_experiment": ("post", "/api/experiments/create"),
    "get_experiment": ("get", "/api/experiments/get"),
    "get_experiment_by_name": ("get", "/api/experiments/get-by-name"),
    "search_experiments": ("post", "/api/experiments/search"),
    "delete_experiment": ("post", "/api/experiments/delete"),
    "restore_experiment": ("post", "/api/experiments/restore"),
    "rename_experiment": ("post", "/api/experiments/rename"),
    "set_experiment_tag": ("post", "/api/experiments/set-tag"),
    "create_run": ("post", "/api/runs/create"),
    "get_run": ("get", "/api/runs/get"),
    "update_run_info": ("post", "/api/runs/update"),
    "delete_run": ("post", "/api/runs/delete"),
    "gc": ("post", "/api/gc"),
    "restore_run": ("post", "/api/runs/restore"),
    "log_batch": ("post", "/api/runs/log-batch"),
    "log_metric_rows": ("post", "/api/metrics/log-rows"),
    "delete_tag": ("post", "/api/runs/delete-tag"),
    "get_metric_history": ("get", "/api/metrics/get-history"),
    "search_runs": ("post", "/api/runs/search"),
    "create_registered_model": ("post", "/api/registered-models/create"),
    "get_registered_model": ("get", "/api/registered-models/get"),
    "search_registered_models": ("post", "/api/registered-models/search"),
    "update_registered_model": ("post", "/api/registered-models/update"),
    "delete_registered_model": ("post", "/api/registered-models/delete"),
    "set_registered_model_tag": ("post", "/api/registered-models/set-tag"),
    "set_registered_model_alias": ("post", "/api/registered-models/set-alias"),
    "delete_registered_model_alias": ("post", "/api/registered-models/delete-alias"),
    "get_model_version_by_alias": ("get", "/api/registered-models/alias"),
    "create_model_version": ("post", "/api/model-versions/create"),
    "get_model_version": ("get", "/api/model-versions/get"),
    "get_latest_version": ("get", "/api/model-versions/get-latest"),
    "search_model_versions": ("post", "/api/model-versions/search"),
    "update_model_version": ("post", "/api/model-versions/update"),
    "transition_model_version_stage": ("post", "/api/model-versions/transition-stage"),
    "delete_model_version": ("post", "/api/model-versions/delete"),
    "set_model_version_tag": ("post", "/api/model-versions/set-tag"),
}


@pytest.fixture
def api(rest_servers: RestServers, tmp_path: Path) -> Iterator[httpx.Client]:
    """An HTTP client of a fresh server whose artifacts go to ``tmp_path/artifacts``."""
    url, pid = rest_servers.start(tmp_path / "tunetrack.db", tmp_path / "artifacts")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    finally:
        stop_server(pid)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert "Traceback" not in body["message"]
    return body["message"]


# -- the spec ------------------------------------------------------------------------------
def test_openapi_documents_a_route_for_every_store_operation(api: httpx.Client) -> None:
    members = inspect.getmembers(Store)
    abstract = {name for name, f in members if getattr(f, "__isabstractmethod__", False)}
    assert abstract == set(ROUTES)  # a new Store operation needs a route (and a line here)
    paths = api.get("/openapi.json").json()["paths"]
    for method, path in ROUTES.values():
        operation = paths[path][method]
        assert "200" in operation["responses"], path
        if method == "post":
            assert "$ref" in str(operation["requestBody"]), path


# -- errors --------------------------------------------------------------------------------
def test_tunetrack_errors_keep_their_code_and_http_status(api: httpx.Client) -> None:
    missing = api.get("/api/runs/get", params={"run_id": "0" * 32})
    assert "no run" in _error(missing, 404, "RESOURCE_NOT_FOUND")
    assert api.post("/api/experiments/create", json={"name": "x"}).status_code == 200
    _error(api.post("/api/experiments/create", json={"name": "x"}), 409, "RESOURCE_CONFLICT")
    bad_filter = api.post("/api/runs/search", json={"experiment_ids": ["0"], "filter_string": "("})
    _error(bad_filter, 400, "INVALID_PARAMETER")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"start_time": 1}, "experiment_id"),  # missing
        ({"experiment_id": "0", "start_time": "soon"}, "start_time"),  # wrong type
        ({"experiment_id": "0", "start_time": 1, "colour": "red"}, "colour"),  # unknown
    ],
    ids=["missing", "wrong-type", "unknown"],
)
def test_a_request_off_the_api_is_a_400_naming_the_field(
    api: httpx.Client, body: dict, named: str
) -> None:
    assert named in _error(api.post("/api/runs/create", json=body), 400, "INVALID_PARAMETER")


HUGE = 2**70  # beyond the 64-bit integers both databases store


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/runs/create", {"experiment_id": "0", "start_time": HUGE}),
        ("/api/runs/create", {"experiment_id": str(HUGE), "start_time": 1}),
        ("/api/runs/search", {"experiment_ids": [str(HUGE)]}),
        ("/api/runs/update", {"run_id": "RUN", "end_time": HUGE}),
        ("/api/runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": 1.0, "timestamp": HUGE}]}),  # noqa: E501
        ("/api/metrics/log-rows", {"rows": [["RUN", "m", HUGE, 1, 1.0]]}),
        ("/api/registered-models/set-alias", {"name": "m", "alias": "a", "version": HUGE}),
        ("/api/experiments/create", {"name": "\ud800"}),
        ("/api/experiments/create", {"name": "t", "tags": {"k": "\ud800"}}),
        ("/api/runs/search", {"experiment_ids": ["0"], "filter_string": "params.a = '\ud800'"}),
    ],
    ids=[
        "huge-start-time", "huge-experiment-id", "huge-search-id", "huge-end-time",
        "huge-timestamp", "huge-step", "huge-version",
        "surrogate-name", "surrogate-tag", "surrogate-filter",
    ],
)  # fmt: skip
def test_numbers_out_of_range_and_unpaired_surrogates_are_a_400_not_a_500(
    api: httpx.Client, path: str, body: dict
) -> None:
    run_id = api.post("/api/runs/create", json={"experiment_id": "0", "start_time": 1})
    text = json.dumps(body).replace("RUN", run_id.json()["run"]["info"]["run_id"])
    headers = {"Content-Type": "application/json"}
    assert _error(api.post(path, content=text, headers=headers), 400, "INVALID_PARAMETER")


def test_a_body_that_is_not_json_is_a_400(api: httpx.Client) -> None:
    response = api.post(
        "/api/runs/create", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert "JSON" in _error(response, 400, "INVALID_PARAMETER")


def test_unknown_routes_and_methods_are_json_404_and_405(api: httpx.Client) -> None:
    assert _error(api.get("/api/nothing/here"), 404, "RESOURCE_NOT_FOUND")
    assert _error(api.delete("/api/runs/get"), 405, "INVALID_PARAMETER")


# -- the artifact proxy --------------------------------------------------------------------
def _pieces(size: int) -> Iterator[bytes]:
    """``size`` bytes in 64 KiB pieces (sent chunked: no Content-Length)."""
    block = hashlib.sha256(b"tunetrack").digest() * 2048
    for start in range(0, size, len(block)):
        yield block[: min(len(block), size - start)]


def test_artifacts_upload_list_and_download_through_the_proxy(
    api: httpx.Client, tmp_path: Path
) -> None:
    size = 5 * 1024 * 1024 + 17  # several pieces of the server's 1 MiB writes
    put = api.put("/api/artifacts/1/run/model/weights.bin", content=_pieces(size))
    assert put.json() == {"path": "1/run/model/weights.bin", "size": size}
    api.put("/api/artifacts/1/run/notes.txt", content=b"hello")
    on_disk = tmp_path / "artifacts" / "1" / "run" / "model" / "weights.bin"
    assert on_disk.stat().st_size == size

    listed = api.get("/api/artifacts", params={"path": "1/run"}).json()["files"]
    assert listed == [
        {"path": "1/run/model", "is_dir": True, "file_size": None},
        {"path": "1/run/notes.txt", "is_dir": False, "file_size": 5},
    ]
    with api.stream("GET", "/api/artifacts/1/run/model/weights.bin") as response:
        digest = hashlib.sha256()
        for chunk in response.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(b"".join(_pieces(size))).hexdigest()
    assert api.get("/api/artifacts", params={"path": "1/none"}).json() == {"files": []}


@pytest.mark.parametrize(
    "path",
    ["1/../../escape.txt", "1/%2e%2e/%2e%2e/escape.txt", "1\\..\\..\\escape.txt"],
    ids=["dotdot", "encoded-dotdot", "backslashes"],
)
def test_artifact_paths_that_leave_the_root_are_refused_and_nothing_is_written(
    api: httpx.Client, tmp_path: Path, path: str
) -> None:
    connection = http.client.HTTPConnection(api.base_url.host, api.base_url.port, timeout=60)
    connection.request("PUT", f"/api/artifacts/{path}", body=b"x")  # the path as written
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert (response.status, body["error_code"]) == (400, "INVALID_PARAMETER"), body
    assert not list(tmp_path.rglob("escape.txt"))


def test_an_artifact_symlink_out_of_the_root_is_refused_without_naming_server_paths(
    api: httpx.Client, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "artifacts" / "1").mkdir(parents=True)
    os.symlink(tmp_path / "secret.txt", tmp_path / "artifacts" / "1" / "link.txt")
    message = _error(api.get("/api/artifacts/1/link.txt"), 400, "INVALID_PARAMETER")
    assert str(tmp_path) not in message
    message = _error(api.get("/api/artifacts/1/gone.txt"), 404, "RESOURCE_NOT_FOUND")
    assert str(tmp_path) not in message


# -- limits and failures (the CLI's flags) -------------------------------------------------
def test_bodies_over_the_limits_are_413_naming_the_option_and_nothing_is_stored(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    server = tracking_server("--max-body-size", "1k", "--max-artifact-size", "4k")
    with httpx.Client(base_url=server.url, timeout=60) as api:
        big_json = {"name": "x" * 2000}
        message = _error(
            api.post("/api/experiments/create", json=big_json), 413, "INVALID_PARAMETER"
        )
        assert "--max-body-size" in message
        assert api.get("/api/experiments/get-by-name", params={"name": "x" * 2000}).json() == {
            "experiment": None
        }
        too_big = api.put("/api/artifacts/1/big.bin", content=_pieces(5000))  # chunked
        assert "--max-artifact-size" in _error(too_big, 413, "INVALID_PARAMETER")
        declared = api.put("/api/artifacts/1/big.bin", content=b"x" * 5000)  # Content-Length
        _error(declared, 413, "INVALID_PARAMETER")
        assert not list((tmp_path / "server-artifacts").rglob("*big*"))
        assert api.put("/api/artifacts/1/small.bin", content=b"x" * 4096).status_code == 200


def test_an_unexpected_failure_is_a_generic_500_and_the_traceback_stays_in_the_log(
    tracking_server: StartServer, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")  # the operator pointed --artifacts-destination at a file
    server = tracking_server("--artifacts-destination", str(not_a_dir))
    response = httpx.put(f"{server.url}/api/artifacts/1/x.txt", content=b"x", timeout=60)
    message = _error(response, 500, "INTERNAL_ERROR")
    assert str(tmp_path) not in message
    deadline = time.monotonic() + 30  # the server logs after it has answered
    while "Traceback" not in server.stderr.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "NotADirectoryError" in server.stderr.read_text()


def _routes_tried(app: FastAPI, method: str, path: str) -> int:
    """How many of the app's top-level routes a request is matched against before its own."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for tried, route in enumerate(app.router.routes, start=1):
        if route.matches(scope)[0] is Match.FULL:
            return tried
    raise AssertionError(f"no route matches {method} {path}")


def test_the_batched_writers_route_and_health_are_matched_before_the_rest(
    tmp_path: Path,
) -> None:
    """Routes are tried one by one, each costing Python calls: the route of every metric
    batch (and a load balancer's health check) come before the dozens of others."""
    app = create_app(f"sqlite:///{tmp_path}/store.db", str(tmp_path / "artifacts"))
    docs = _routes_tried(app, "GET", "/api/docs")
    assert _routes_tried(app, "GET", "/health") == docs + 2  # after the docs' oauth2 redirect
    assert _routes_tried(app, "POST", "/api/metrics/log-rows") == docs + 3
    assert runs.router.routes[0].path == "/api/metrics/log-rows"  # first in its router too
    assert _routes_tried(app, "POST", "/api/2.0/mlflow/runs/log-batch") > docs + 3
