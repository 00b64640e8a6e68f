"""The web UI over HTTP: ``tunetrack ui`` in a real process over a real SQLite store.

The store holds a real 6-trial iris sweep (retrained and registered) and synthetic runs with
hostile names and artifacts (see ``tests/ui_server.py``); a second store holds 100,000 runs
bulk-inserted into the schema for the paging test.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ui_server import SPIKE_STEP, STEPS, XSS_NAME, UiStore, fill_store, serve_ui

pytestmark = pytest.mark.slow
_FIGURE = re.compile(
    r'<script type="application/json" class="figure-data" data-target="([^"]+)">(.*?)</script>',
    re.S,
)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    return fill_store(tmp_path_factory.mktemp("ui"))


@pytest.fixture(scope="module")
def ui(filled: UiStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    logs = tmp_path_factory.mktemp("ui-logs")
    with serve_ui(filled.uri, logs) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def _page(ui: httpx.Client, url: str, **params: object) -> str:
    response = ui.get(url, params=params)
    assert response.status_code == 200, response.text[:2000]
    return response.text


def _row_ids(page: str) -> list[str]:
    return re.findall(r'<tr class="run-row depth-\d" data-run="([0-9a-f]+)">', page)


def _figures(page: str) -> dict[str, dict]:
    return {target: json.loads(body) for target, body in _FIGURE.findall(page)}


def test_experiments_page_shows_run_counts_and_searches_by_name(ui: httpx.Client) -> None:
    page = _page(ui, "/")
    rows = dict(re.findall(r'">([^<]+)</a></td>\s*<td class="num">(\d+)</td>', page))
    assert rows["iris"] == "8"  # the sweep, 6 trials and the retrained run
    assert rows["synthetic"] == "4"
    found = _page(ui, "/", q="synth")
    assert ">synthetic</a>" in found
    assert ">iris</a>" not in found


def test_runs_table_nests_trials_under_their_sweep_and_expands_them(
    ui: httpx.Client, filled: UiStore
) -> None:
    page = _page(ui, f"/experiments/{filled.iris_experiment}")
    assert _row_ids(page) == [filled.sweep_id]
    assert ">metrics.accuracy" in page.split('id="runs">')[1]  # default columns: trials' too
    assert f"/experiments/{filled.iris_experiment}/children/{filled.sweep_id}?" in page
    children = _page(ui, f"/experiments/{filled.iris_experiment}/children/{filled.sweep_id}")
    assert len(_row_ids(children)) == 7  # 6 trials and the retrained run


def test_filter_matching_only_trials_keeps_their_sweep_and_filters_its_children(
    ui: httpx.Client, filled: UiStore
) -> None:
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(filled.uri)
    try:
        wanted = {
            r.info.run_id
            for r in store.search_runs([filled.iris_experiment], "metrics.accuracy > 0.95")
        }
    finally:
        store.close()
    assert wanted
    query = {"filter": "metrics.accuracy > 0.95"}
    page = _page(ui, f"/experiments/{filled.iris_experiment}", **query)
    assert _row_ids(page) == [filled.sweep_id]
    url = f"/experiments/{filled.iris_experiment}/children/{filled.sweep_id}"
    assert set(_row_ids(_page(ui, url, **query))) == wanted


@pytest.mark.parametrize(
    ("bad_filter", "column"),
    [("metrics.accuracy >> 3", 19), ("params.a = 'x' and attributes.nope = 1", 31)],
)
def test_bad_filter_is_shown_inline_with_a_caret_under_its_column(
    ui: httpx.Client, filled: UiStore, bad_filter: str, column: int
) -> None:
    page = _page(ui, f"/experiments/{filled.iris_experiment}", filter=bad_filter)
    box = re.search(
        r'<div class="filter-error"[^>]*>\s*<pre>(.*?)</pre>\s*<p>(.*?)</p>', page, re.S
    )
    assert box is not None
    shown, caret = html.unescape(box.group(1)).split("\n")
    assert shown == bad_filter
    assert caret == " " * (column - 1) + "^"
    assert f"at column {column}:" in box.group(2)
    assert f'data-column="{column}"' in page


def test_runs_table_sorts_by_a_chosen_metric_column_both_ways(
    ui: httpx.Client, filled: UiStore
) -> None:
    url = f"/experiments/{filled.synthetic_experiment}"
    everyone = [filled.xss_run, *filled.plain_runs]  # accuracy rises with the index
    down = _page(ui, url, order="metrics.`accuracy` DESC", cols="metrics.accuracy")
    assert _row_ids(down) == everyone[::-1]
    up = _page(ui, url, order="metrics.`accuracy` ASC", cols="metrics.accuracy")
    assert _row_ids(up) == everyone


def test_runs_table_shows_only_the_chosen_columns(ui: httpx.Client, filled: UiStore) -> None:
    page = _page(ui, f"/experiments/{filled.synthetic_experiment}", cols="params.lr")
    header = page.split('id="runs">')[1].split("<tbody>")[0]
    assert ">params.lr" in header
    assert "metrics.accuracy" not in header
    assert '<td class="num">0.01</td>' in page


def test_runs_csv_download_has_one_row_per_matching_run_and_the_chosen_columns(
    ui: httpx.Client, filled: UiStore
) -> None:
    response = ui.get(
        f"/experiments/{filled.synthetic_experiment}/runs.csv",
        params={"filter": "metrics.accuracy > 0.72", "cols": "metrics.accuracy,params.model"},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["run_id"] for r in rows) == sorted(filled.plain_runs)
    assert {r["params.model"] for r in rows} == {"rf", "<b>xgb</b>"}
    assert all(float(r["metrics.accuracy"]) > 0.72 for r in rows)


def test_run_page_charts_a_downsampled_metric_that_keeps_its_spike(
    ui: httpx.Client, filled: UiStore
) -> None:
    run_id = filled.plain_runs[0]
    figures = _figures(_page(ui, f"/runs/{run_id}"))
    (loss,) = [f for f in figures.values() if f["layout"]["title"]["text"] == "loss"]
    xs, ys = loss["data"][0]["x"], loss["data"][0]["y"]
    assert len(xs) <= 1000
    assert SPIKE_STEP in xs
    assert max(ys) > 50
    full = ui.get(f"/runs/{run_id}/metric.csv", params={"key": "loss"})
    assert full.status_code == 200
    assert len(full.text.strip().splitlines()) == STEPS + 1


def test_run_page_previews_json_csv_image_and_html_artifacts(
    ui: httpx.Client, filled: UiStore
) -> None:
    run_id = filled.plain_runs[0]
    as_json = _page(ui, f"/runs/{run_id}", artifact="config.json")
    assert "&#34;layers&#34;: [\n    64," in as_json or "&#34;layers&#34;: [\n    64," in as_json
    table = _page(ui, f"/runs/{run_id}", artifact="scores.csv")
    assert "<th>fold</th><th>score</th>" in table
    assert "<td>&lt;i&gt;0.8&lt;/i&gt;</td>" in table
    image = _page(ui, f"/runs/{run_id}", artifact="red.png")
    assert f'src="/runs/{run_id}/artifact?path=red.png&amp;inline=1"' in image
    png = ui.get(f"/runs/{run_id}/artifact", params={"path": "red.png", "inline": 1})
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    report = _page(ui, f"/runs/{run_id}", artifact="report.html")
    assert f'<iframe sandbox="" src="/runs/{run_id}/artifact-frame?path=report.html"' in report
    frame = ui.get(f"/runs/{run_id}/artifact-frame", params={"path": "report.html"})
    assert frame.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    download = ui.get(f"/runs/{run_id}/artifact", params={"path": "report.html"})
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")


def test_artifact_paths_outside_the_run_are_refused(ui: httpx.Client, filled: UiStore) -> None:
    for path in ("../../ui.db", "/etc/passwd"):
        response = ui.get(f"/runs/{filled.plain_runs[0]}/artifact", params={"path": path})
        assert response.status_code == 400


def test_user_typed_values_are_escaped_on_every_page(ui: httpx.Client, filled: UiStore) -> None:
    pages = [
        _page(ui, f"/runs/{filled.xss_run}"),
        _page(ui, f"/experiments/{filled.synthetic_experiment}", cols="params.model,tags.note"),
        _page(ui, "/compare", runs=[filled.xss_run, filled.plain_runs[0]]),
    ]
    for page in pages:
        assert XSS_NAME not in page
        assert "<b>xgb</b>" not in page
        assert "<img src=x" not in page
    assert html.escape(XSS_NAME, quote=False) in pages[0]


def test_pages_allow_no_inline_script(ui: httpx.Client, filled: UiStore) -> None:
    response = ui.get(f"/runs/{filled.xss_run}")
    policy = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src.group(1)
    assert "<script>" not in response.text  # only <script src=...> and JSON data blocks


def test_compare_page_shows_differences_and_charts_of_the_chosen_runs(
    ui: httpx.Client, filled: UiStore
) -> None:
    chosen = [filled.plain_runs[0], filled.plain_runs[1]]
    page = _page(ui, "/compare", runs=chosen, x="params.lr", y="metrics.accuracy")
    assert "Compare 2 runs" in page
    head = page.split('<table class="grid" id="diff">')[1].split("</thead>")[0]
    assert "params.lr" in head
    assert "metrics.accuracy" in head
    figures = _figures(page)
    assert figures["parallel"]["data"][0]["type"] == "parcoords"
    scatter = figures["scatter"]["data"][0]
    assert sorted(scatter["x"]) == [0.001, 0.01]
    assert [len(t["x"]) <= 500 for t in figures["history"]["data"]] == [True, True]


def test_compare_takes_the_runs_matching_a_filter(ui: httpx.Client, filled: UiStore) -> None:
    query = {"experiment": filled.iris_experiment, "filter": "tags.`tunetrack.run_type` = 'trial'"}
    page = _page(ui, "/compare", **query)
    assert "Compare 6 runs" in page


def test_sweep_page_shows_status_counts_history_importance_best_and_registration(
    ui: httpx.Client, filled: UiStore
) -> None:
    page = _page(ui, f"/sweeps/{filled.sweep_id}")
    assert "FINISHED 6" in page
    figures = _figures(page)
    history = figures["history"]["data"]
    assert len(history[0]["x"]) == 6
    best = history[1]["y"]
    assert best == sorted(best)  # best-so-far of a maximised metric never falls
    assert figures["importance"]["data"][0]["type"] == "bar"
    assert {"max_depth", "n_estimators"} <= set(figures["importance"]["data"][0]["y"])
    assert sum(1 for key in figures if key.startswith("slice-")) == 4
    assert len(re.findall(r'<td class="num">\d+</td>\s*<td class="name">', page)) == 6
    assert 'href="/models/iris-ui">iris-ui</a> version 1' in page


def test_models_pages_list_versions_with_source_runs_and_aliases(
    ui: httpx.Client, filled: UiStore
) -> None:
    listing = _page(ui, "/models")
    assert 'href="/models/iris-ui"' in listing
    assert "@champion → v1" in listing
    detail = _page(ui, "/models/iris-ui")
    assert "@champion" in detail
    assert re.search(r'<a href="/runs/[0-9a-f]+" class="mono">', detail)


def test_local_ui_edits_aliases_with_the_csrf_token_and_answers_only_local_names(
    ui: httpx.Client, filled: UiStore
) -> None:
    page = _page(ui, "/models/iris-ui")
    assert 'id="alias-form"' in page  # no --auth: the local user owns the store
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    edit = "/models/iris-ui/edit/alias"
    assert ui.post(edit, data={"alias": "picked", "version": "1"}).status_code == 403
    assert "@picked" not in _page(ui, "/models/iris-ui")
    moved = ui.post(edit, data={"alias": "picked", "version": "1", "csrf": csrf})
    assert moved.status_code == 303
    assert "@picked" in _page(ui, "/models/iris-ui")
    foreign = ui.post(
        "/models/iris-ui/edit/unalias",
        data={"alias": "picked", "csrf": csrf},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403  # another origin's page
    rebound = ui.get("/models/iris-ui", headers={"Host": "evil.example"})
    assert rebound.status_code == 400  # a DNS-rebound name
    removed = ui.post("/models/iris-ui/edit/unalias", data={"alias": "picked", "csrf": csrf})
    assert removed.status_code == 303
    assert "@picked" not in _page(ui, "/models/iris-ui")


def test_plotly_js_is_served_from_the_installed_plotly_package(ui: httpx.Client) -> None:
    import plotly

    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = ui.get("/static/ui/plotly.min.js")
    assert response.status_code == 200
    assert response.content == bundled.read_bytes()
    assert ui.get("/static/ui/../app.py").status_code == 404


def test_missing_run_is_a_404_page(ui: httpx.Client) -> None:
    response = ui.get("/runs/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert "Something went wrong" in response.text


# ----------------------------------------------------------------------------- 100,000 runs

BIG = 100_000


def _bulk_store(root: Path) -> tuple[str, str]:
    """A store with BIG runs in one experiment, inserted straight into the schema."""
    from tunetrack.store.sql.store import SqlStore

    uri = f"sqlite:///{root}/big.db"
    store = SqlStore(uri)
    experiment_id = store.create_experiment("big")
    store.close()
    base = 1_700_000_000_000
    ids = [f"{i:032x}" for i in range(BIG)]
    with sqlite3.connect(root / "big.db") as conn:
        conn.executemany(
            "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time,"
            " end_time, lifecycle_stage, artifact_uri, parent_run_id)"
            " VALUES (?, ?, ?, 'u', 'FINISHED', ?, ?, 'active', ?, NULL)",
            [(rid, int(experiment_id), f"run-{i}", base + i, base + i + 5, f"{root}/a/{rid}")
             for i, rid in enumerate(ids)],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO latest_metrics (run_id, key, experiment_id, step, timestamp, value)"
            " VALUES (?, 'acc', ?, 0, ?, ?)",
            [(rid, int(experiment_id), base + i, (i * 7919 % BIG) / BIG)
             for i, rid in enumerate(ids)],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO params (run_id, key, value) VALUES (?, 'depth', ?)",
            [(rid, str(i % 9)) for i, rid in enumerate(ids)],
        )
    return uri, experiment_id


def test_runs_page_at_100000_runs_answers_50_rows_and_a_next_page_link(
    tmp_path: Path,
) -> None:
    uri, experiment_id = _bulk_store(tmp_path)
    with serve_ui(uri, tmp_path) as base, httpx.Client(base_url=base, timeout=120) as ui:
        query = {"order": "metrics.`acc` DESC", "cols": "metrics.acc,params.depth"}
        first = _page(ui, f"/experiments/{experiment_id}", **query)
        rows = _row_ids(first)
        assert len(rows) == 50
        shown = [float(v) for v in re.findall(r'<td class="num">(0\.\d+)</td>', first)]
        assert shown == sorted(shown, reverse=True)
        following = re.search(r'<a href="([^"]+)" id="next-page"', first)
        assert following is not None
        second = _page(ui, html.unescape(following.group(1)))
        more = _row_ids(second)
        assert len(more) == 50
        assert not set(rows) & set(more)
        counted = _page(ui, "/")
        assert re.search(r">big</a></td>\s*<td class=\"num\">100000</td>", counted)
