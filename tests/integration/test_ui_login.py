"""The web UI of ``tunetrack server --auth``: the login page and its session cookie, CSRF
tokens on forms, and who may move a model's aliases and stages — a real server process, a
real SQLite store, two versions of a real iris model registered through the server."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from tunetrack.server.auth.roles import Role
from tunetrack.store.sql.users import UserStore

pytestmark = pytest.mark.slow
PAGE = {"Accept": "text/html,application/xhtml+xml"}
REGISTER = textwrap.dedent(
    """
    import tunetrack
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    tunetrack.set_experiment("iris")
    for c in (0.1, 1.0):
        with tunetrack.start_run():
            model = LogisticRegression(C=c, max_iter=500).fit(X, y)
            tunetrack.log_model(model, "model", registered_model_name="iris-lr")
    tunetrack.Client().set_registered_model_alias("iris-lr", "champion", 1)
    """
)


@dataclass
class Site:
    url: str
    users: UserStore


@pytest.fixture
def site(tracking_server: Any, tmp_path: Path) -> Site:
    server = tracking_server("--auth")
    users = UserStore(create_engine(f"sqlite:///{tmp_path}/server.db"))
    users.add_user("root", "root-pw", Role.ADMIN)
    users.add_user("ed", "ed-pw", Role.EDITOR)
    users.add_user("vi", "vi-pw", Role.VIEWER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env.update(
        TUNETRACK_TRACKING_URI=server.url, TUNETRACK_TRACKING_TOKEN=users.create_token("root")
    )
    done = subprocess.run(
        [sys.executable, "-c", REGISTER], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return Site(server.url, users)


@contextlib.contextmanager
def _login(url: str, name: str, password: str) -> Iterator[httpx.Client]:
    """A browser-like client holding the session (and CSRF) cookies of ``name``."""
    with httpx.Client(base_url=url, headers=PAGE, timeout=60) as client:
        yield _logged_in(client, name, password)


def _logged_in(client: httpx.Client, name: str, password: str) -> httpx.Client:
    form = client.get("/login")
    assert form.status_code == 200
    response = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": _csrf(form.text), "next": "/models"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/models"
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _aliases(url: str) -> dict[str, int]:
    got = httpx.get(
        url + "/api/registered-models/get",
        params={"name": "iris-lr"},
        auth=("root", "root-pw"),
        timeout=30,
    )
    assert got.status_code == 200, got.text
    return {k: int(v) for k, v in got.json()["registered_model"]["aliases"].items()}


def _stage(url: str, version: int) -> str:
    got = httpx.get(
        url + "/api/model-versions/get",
        params={"name": "iris-lr", "version": version},
        auth=("root", "root-pw"),
        timeout=30,
    )
    assert got.status_code == 200, got.text
    return got.json()["model_version"]["current_stage"]


def test_a_browser_is_sent_to_login_and_a_script_gets_401(site: Site) -> None:
    page = httpx.get(site.url + "/models?x=1", headers=PAGE, timeout=30)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fmodels%3Fx%3D1"
    assert httpx.get(site.url + "/models", timeout=30).status_code == 401
    api = httpx.get(site.url + "/api/experiments/search", headers=PAGE, timeout=30)
    assert api.status_code == 401


def test_login_starts_a_session_for_pages_only_until_the_user_is_deleted(site: Site) -> None:
    with _login(site.url, "vi", "vi-pw") as browser:
        cookie = browser.cookies["tunetrack_session"]
        page = browser.get("/models")
        assert page.status_code == 200
        assert "iris-lr" in page.text
        assert "vi (viewer)" in page.text
        # the cookie is no API credential
        assert browser.get("/api/experiments/search").status_code == 401
        # a forged cookie is no session
        name, _, signature = cookie.partition(".")
        forged = httpx.get(
            site.url + "/models",
            headers=PAGE,
            cookies={"tunetrack_session": f"{name}x.{signature}"},
            timeout=30,
        )
        assert forged.status_code == 303
        site.users.delete_user("vi")
        assert browser.get("/models").status_code == 303


def test_a_wrong_password_or_a_foreign_next_gets_no_session_elsewhere(site: Site) -> None:
    with httpx.Client(base_url=site.url, headers=PAGE, timeout=60) as browser:
        csrf = _csrf(browser.get("/login").text)
        wrong = browser.post("/login", data={"name": "ed", "password": "nope", "csrf": csrf})
        assert wrong.status_code == 401
        assert "wrong user name or password" in wrong.text
        assert "tunetrack_session" not in browser.cookies
        no_token = browser.post("/login", data={"name": "ed", "password": "ed-pw"})
        assert no_token.status_code == 403
        assert "tunetrack_session" not in browser.cookies
        away = browser.post(
            "/login",
            data={"name": "ed", "password": "ed-pw", "csrf": csrf, "next": "//evil.example/x"},
        )
        assert away.status_code == 303
        assert away.headers["location"] == "/"


def test_a_viewer_sees_no_edit_controls_and_cannot_move_an_alias(site: Site) -> None:
    with _login(site.url, "vi", "vi-pw") as browser:
        page = browser.get("/models/iris-lr").text
        assert 'id="alias-form"' not in page
        assert "stage-form" not in page
        refused = browser.post(
            "/models/iris-lr/edit/alias",
            data={"alias": "champion", "version": "2", "csrf": _csrf(page)},
        )
        assert refused.status_code == 403
        assert "needs the editor role" in refused.text
    assert _aliases(site.url) == {"champion": 1}


def test_an_editor_moves_an_alias_and_a_stage_with_the_pages_csrf_token(site: Site) -> None:
    with _login(site.url, "ed", "ed-pw") as browser:
        page = browser.get("/models/iris-lr").text
        assert 'id="alias-form"' in page
        forged = browser.post(
            "/models/iris-lr/edit/alias", data={"alias": "champion", "version": "2"}
        )
        assert forged.status_code == 403
        assert _aliases(site.url) == {"champion": 1}
        csrf = _csrf(page)
        moved = browser.post(
            "/models/iris-lr/edit/alias", data={"alias": "champion", "version": "2", "csrf": csrf}
        )
        assert moved.status_code == 303
        assert _aliases(site.url) == {"champion": 2}
        staged = browser.post(
            "/models/iris-lr/edit/stage",
            data={"version": "2", "stage": "Production", "csrf": csrf},
        )
        assert staged.status_code == 303
        assert _stage(site.url, 2) == "Production"
        bad = browser.post(
            "/models/iris-lr/edit/stage", data={"version": "2", "stage": "Live", "csrf": csrf}
        )
        assert bad.status_code == 400
        assert "unknown stage" in bad.text
        removed = browser.post(
            "/models/iris-lr/edit/unalias", data={"alias": "champion", "csrf": csrf}
        )
        assert removed.status_code == 303
        assert _aliases(site.url) == {}
