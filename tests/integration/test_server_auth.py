"""``tunetrack server --auth``: users, roles, experiment grants and API tokens, against a real
server process over a fresh SQLite store, through httpx, RestStore and the mlflow client."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

CLI = [sys.executable, "-c", "from tunetrack.cli import main; main()"]


class Auth:
    """The store of the test's server, and the tunetrack users/tokens commands on it."""

    def __init__(self, tmp_path: Path) -> None:
        self.uri = f"sqlite:///{tmp_path}/server.db"

    def cli(self, *args: str, stdin: str = "") -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
        done = subprocess.run(
            [*CLI, *args, "--backend-store-uri", self.uri],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add(self, name: str, role: str, password: str = "pw-of-" + "user") -> None:
        self.cli("users", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")


@pytest.fixture
def auth(tmp_path: Path) -> Auth:
    return Auth(tmp_path)


@pytest.fixture
def server(auth: Auth, tracking_server):  # type: ignore[no-untyped-def]
    auth.add("root", "admin", "root-pw")
    auth.add("ed", "editor", "ed-pw")
    auth.add("vi", "viewer", "vi-pw")
    auth.add("guest", "none", "guest-pw")
    return tracking_server("--auth")


def _post(url: str, path: str, body: dict, user: tuple[str, str] | None) -> httpx.Response:
    return httpx.post(url + path, json=body, auth=user, timeout=30)


def _new_run(url: str, name: str) -> tuple[str, str]:
    """An experiment ``name`` and a run in it, made by the admin."""
    root = ("root", "root-pw")
    eid = _post(url, "/api/experiments/create", {"name": name}, root).json()["experiment_id"]
    run = _post(url, "/api/runs/create", {"experiment_id": eid, "start_time": 1}, root).json()
    return eid, run["run"]["info"]["run_id"]


def _log(url: str, run_id: str, user: tuple[str, str]) -> httpx.Response:
    metric = {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    return _post(url, "/api/runs/log-batch", {"run_id": run_id, "metrics": [metric]}, user)


def test_requests_without_or_with_wrong_credentials_get_401_but_health_answers(server) -> None:
    bare = httpx.post(server.url + "/api/experiments/search", json={}, timeout=30)
    assert bare.status_code == 401
    assert "Basic" in bare.headers["WWW-Authenticate"]
    assert bare.json()["error_code"] == "UNAUTHENTICATED"
    wrong = _post(server.url, "/api/experiments/search", {}, ("root", "not-the-pw"))
    assert wrong.status_code == 401
    unknown = _post(server.url, "/api/experiments/search", {}, ("nobody", "root-pw"))
    assert unknown.status_code == 401
    mlflow_route = httpx.get(server.url + "/api/2.0/mlflow/experiments/get?experiment_id=0")
    assert mlflow_route.status_code == 401
    artifacts = httpx.get(server.url + "/api/artifacts/0/x.txt")
    assert artifacts.status_code == 401
    assert httpx.get(server.url + "/health").status_code == 200
    assert _post(server.url, "/api/experiments/search", {}, ("root", "root-pw")).status_code == 200


def test_a_viewer_reads_but_may_not_log_and_an_editor_logs(server) -> None:
    eid, run_id = _new_run(server.url, "shared")
    viewer, editor = ("vi", "vi-pw"), ("ed", "ed-pw")
    refused = _log(server.url, run_id, viewer)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    assert _log(server.url, run_id, editor).status_code == 200
    got = httpx.get(f"{server.url}/api/runs/get", params={"run_id": run_id}, auth=viewer)
    assert got.json()["run"]["data"]["metrics"] == {"loss": 0.5}
    create = {"experiment_id": eid, "start_time": 2}
    assert _post(server.url, "/api/runs/create", create, viewer).status_code == 403
    assert _post(server.url, "/api/runs/create", create, editor).status_code == 200
    upload = httpx.put(f"{server.url}/api/artifacts/{eid}/a.txt", content=b"x", auth=viewer)
    assert upload.status_code == 403
    upload = httpx.put(f"{server.url}/api/artifacts/{eid}/a.txt", content=b"x", auth=editor)
    assert upload.status_code == 200


def test_a_read_grant_lets_a_user_without_a_role_read_that_experiment_only(
    server, auth: Auth
) -> None:
    granted, granted_run = _new_run(server.url, "granted")
    _, other_run = _new_run(server.url, "other")
    guest = ("guest", "guest-pw")
    read = lambda run_id: httpx.get(  # noqa: E731
        f"{server.url}/api/runs/get", params={"run_id": run_id}, auth=guest
    )
    assert read(granted_run).status_code == 403
    auth.cli("users", "grant", "guest", granted, "READ")
    assert read(granted_run).status_code == 200
    assert read(other_run).status_code == 403
    assert _log(server.url, granted_run, guest).status_code == 403
    search = {"experiment_ids": [granted], "max_results": 10}
    assert _post(server.url, "/api/runs/search", search, guest).status_code == 200
    search["experiment_ids"] = [granted, "2"]
    assert _post(server.url, "/api/runs/search", search, guest).status_code == 403


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(e["name"] for e in response.json().get("experiments", []))


def test_a_user_without_a_role_lists_only_the_experiments_granted_to_them(
    server, auth: Auth
) -> None:
    granted, _ = _new_run(server.url, "granted")
    _new_run(server.url, "other")
    guest, viewer = ("guest", "guest-pw"), ("vi", "vi-pw")
    mlflow_search = server.url + "/api/2.0/mlflow/experiments/search"
    assert _names(_post(server.url, "/api/experiments/search", {}, guest)) == []
    auth.cli("users", "grant", "guest", granted, "READ")
    for body in ({}, {"filter_string": "name LIKE '%e%' or name = 'other'"}):
        assert _names(_post(server.url, "/api/experiments/search", body, guest)) == ["granted"]
    assert _names(httpx.post(mlflow_search, json={}, auth=guest)) == ["granted"]
    assert _names(httpx.get(mlflow_search, params={"max_results": 5}, auth=guest)) == ["granted"]
    paged = _post(server.url, "/api/experiments/search", {"max_results": 1}, guest).json()
    assert [e["name"] for e in paged["experiments"]] == ["granted"]
    assert not paged.get("next_page_token")
    bad = _post(server.url, "/api/experiments/search", {"filter_string": "name ="}, guest)
    assert bad.status_code == 400
    assert "at column 7" in bad.json()["message"]  # in the user's own filter
    assert "experiment_id" not in bad.json()["message"]
    everything = _names(_post(server.url, "/api/experiments/search", {}, viewer))
    assert everything == ["Default", "granted", "other"]


def test_the_creator_of_an_experiment_may_manage_it(server) -> None:
    editor = ("ed", "ed-pw")
    for path in ("/api/experiments/create", "/api/2.0/mlflow/experiments/create"):
        made = _post(server.url, path, {"name": f"mine{path.count('/')}"}, editor)
        eid = made.json()["experiment_id"]
        create = {"experiment_id": eid, "start_time": 1}
        run_id = _post(server.url, "/api/runs/create", create, editor).json()["run"]["info"]
        deleted = _post(server.url, "/api/runs/delete", {"run_id": run_id["run_id"]}, editor)
        assert deleted.status_code == 200, deleted.text
        deleted = _post(server.url, "/api/experiments/delete", {"experiment_id": eid}, editor)
        assert deleted.status_code == 200, deleted.text
    others, _ = _new_run(server.url, "not-mine")  # made by the admin: the editor may only edit
    refused = _post(server.url, "/api/experiments/delete", {"experiment_id": others}, editor)
    assert refused.status_code == 403


def test_deleting_a_run_needs_manage_on_its_experiment(server, auth: Auth) -> None:
    eid, run_id = _new_run(server.url, "to-clean")
    editor = ("ed", "ed-pw")
    assert _post(server.url, "/api/runs/delete", {"run_id": run_id}, editor).status_code == 403
    auth.cli("users", "grant", "ed", eid, "MANAGE")
    assert _post(server.url, "/api/runs/delete", {"run_id": run_id}, editor).status_code == 200


def test_a_token_works_as_bearer_until_revoked(server, auth: Auth) -> None:
    token = auth.cli("tokens", "create", "--user", "ed", "--name", "ci").strip()
    bearer = {"Authorization": f"Bearer {token}"}
    search = server.url + "/api/experiments/search"
    assert httpx.post(search, json={}, headers=bearer).status_code == 200
    token_id = auth.cli("tokens", "list", "--json").split('"token_id": "')[1][:12]
    auth.cli("tokens", "revoke", token_id)
    assert httpx.post(search, json={}, headers=bearer).status_code == 401


def test_passwords_are_stored_as_distinct_salted_hashes(auth: Auth) -> None:
    auth.add("one", "viewer", "same-password")
    auth.add("two", "viewer", "same-password")
    engine = create_engine(auth.uri)
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT password_hash FROM users ORDER BY name")).scalars()
        hashes = list(hashes)
    engine.dispose()
    assert len(hashes) == 2
    assert hashes[0] != hashes[1]
    assert not any("same-password" in h for h in hashes)
    assert all(h.startswith("scrypt$") for h in hashes)


FLUENT = """
import tunetrack
tunetrack.set_experiment("scripted")
with tunetrack.start_run() as run:
    tunetrack.log_param("lr", 0.1)
    for step in range(20):
        tunetrack.log_metric("loss", 1.0 / (step + 1), step=step)
print(run.info.run_id)
"""


def test_the_fluent_api_logs_with_a_token_from_the_environment(server, auth: Auth) -> None:
    token = auth.cli("tokens", "create", "--user", "ed").strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env["TUNETRACK_TRACKING_URI"] = server.url
    script = [sys.executable, "-c", textwrap.dedent(FLUENT)]
    denied = subprocess.run(script, capture_output=True, text=True, env=env, timeout=120)
    assert denied.returncode != 0
    assert "credentials" in denied.stderr
    env["TUNETRACK_TRACKING_TOKEN"] = token
    done = subprocess.run(script, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    history = httpx.get(
        f"{server.url}/api/metrics/get-history",
        params={"run_id": run_id, "key": "loss"},
        auth=("vi", "vi-pw"),
    )
    assert len(history.json()["metrics"]) == 20


MLFLOW = """
import mlflow
mlflow.set_tracking_uri({url!r})
mlflow.set_experiment("from-mlflow")
with mlflow.start_run() as run:
    mlflow.log_param("depth", 3)
    mlflow.log_metric("acc", 0.9)
print(run.info.run_id)
"""


def test_the_mlflow_client_logs_with_basic_credentials_and_fails_cleanly_without(
    server,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    script = [sys.executable, "-c", MLFLOW.format(url=server.url)]
    denied = subprocess.run(script, capture_output=True, text=True, env=env, timeout=300)
    assert denied.returncode != 0
    assert "UNAUTHENTICATED" in denied.stderr or "401" in denied.stderr
    env |= {"MLFLOW_TRACKING_USERNAME": "ed", "MLFLOW_TRACKING_PASSWORD": "ed-pw"}
    done = subprocess.run(script, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    got = httpx.get(
        f"{server.url}/api/runs/get",
        params={"run_id": done.stdout.split()[-1]},
        auth=("vi", "vi-pw"),
    )
    assert got.json()["run"]["data"]["params"] == {"depth": "3"}


def test_the_server_serves_the_web_ui_to_viewers_only(server) -> None:
    _, run_id = _new_run(server.url, "ui-seen")
    assert httpx.get(server.url + "/", timeout=30).status_code == 401
    assert httpx.get(server.url + "/", auth=("guest", "guest-pw"), timeout=30).status_code == 403
    page = httpx.get(server.url + f"/runs/{run_id}", auth=("vi", "vi-pw"), timeout=30)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert run_id in page.text
    listing = httpx.get(server.url + "/", auth=("vi", "vi-pw"), timeout=30)
    assert "ui-seen" in listing.text


def test_a_sweeps_ledger_takes_edit_on_the_sweeps_experiment(server) -> None:
    _, run_id = _new_run(server.url, "swept")
    create = {
        "run_id": run_id,
        "method": "create_new_study",
        "study_name": f"sweep-{run_id}",
        "directions": [1],
    }
    for user in (("vi", "vi-pw"), ("guest", "guest-pw")):
        refused = _post(server.url, "/api/ledger/call", create, user)
        assert refused.status_code == 403, refused.text
        assert "needs EDIT on experiment" in refused.json()["message"]
    made = _post(server.url, "/api/ledger/call", create, ("ed", "ed-pw"))
    assert made.status_code == 200, made.text
    read = {"run_id": run_id, "method": "get_study_directions"}
    assert _post(server.url, "/api/ledger/call", read, ("vi", "vi-pw")).status_code == 403
    assert _post(server.url, "/api/ledger/call", read, ("ed", "ed-pw")).json() == {"result": [1]}
