"""The UI in a real Chromium: the path a user takes, charts drawn, nothing hostile runs.

Each step saves a screenshot into the test's tmp_path (kept by pytest for inspection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ui_server import UiStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 30_000


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _chart_drawn(page: Any, selector: str) -> None:
    page.wait_for_selector(f"{selector} svg.main-svg", timeout=TIMEOUT_MS)


def test_experiments_to_runs_filter_sweep_trials_and_compare(
    page: Any, site: tuple[str, UiStore], tmp_path: Path
) -> None:
    base, filled = site
    page.goto(base + "/")
    _shot(page, tmp_path, "experiments")
    page.click("text=iris")
    page.wait_for_selector("#runs")
    page.fill("#filter", "metrics.accuracy >> 3")
    page.press("#filter", "Enter")
    error = page.wait_for_selector("#filter-error", timeout=TIMEOUT_MS)
    assert "at column 19" in error.inner_text()
    caret = page.inner_text("#filter-error pre").split("\n")[1]
    assert caret == " " * 18 + "^"
    _shot(page, tmp_path, "filter-error")
    page.fill("#filter", "metrics.accuracy > 0.9")
    page.press("#filter", "Enter")
    page.wait_for_selector(f'tr[data-run="{filled.sweep_id}"]')
    assert page.query_selector("#filter-error") is None
    page.click("a.sort >> text=Started")  # sort by start time, newest first
    page.wait_for_url("**order=attributes.start_time+DESC**")
    page.click(f'tr[data-run="{filled.sweep_id}"] button.expand')
    page.wait_for_selector(f'tr[data-parent="{filled.sweep_id}"]', timeout=TIMEOUT_MS)
    trials = page.query_selector_all(f'tr[data-parent="{filled.sweep_id}"] input[name="runs"]')
    assert len(trials) >= 3
    _shot(page, tmp_path, "runs-expanded")
    for box in trials[:3]:
        box.check()
    page.click("#compare-selected")
    page.wait_for_url("**/compare?**")
    _chart_drawn(page, "#parallel")
    assert page.query_selector("#parallel .parcoords") is not None
    assert "Compare 3 runs" in page.inner_text("h1")
    _shot(page, tmp_path, "compare")
    assert page.problems == []


def test_run_page_draws_its_metric_chart_and_previews_an_artifact(
    page: Any, site: tuple[str, UiStore], tmp_path: Path
) -> None:
    base, filled = site
    page.goto(f"{base}/runs/{filled.plain_runs[0]}")
    _chart_drawn(page, ".charts .chart")
    page.check("#log-scale")
    page.wait_for_function(
        "() => document.querySelector('.charts .chart').layout.yaxis.type === 'log'"
    )
    page.click("text=config.json")
    preview = page.wait_for_selector("pre.file", timeout=TIMEOUT_MS)
    assert '"layers"' in preview.inner_text()
    _shot(page, tmp_path, "run")
    assert page.problems == []


def test_sweep_page_draws_history_and_importance(
    page: Any, site: tuple[str, UiStore], tmp_path: Path
) -> None:
    base, filled = site
    page.goto(f"{base}/sweeps/{filled.sweep_id}")
    _chart_drawn(page, "#history")
    _chart_drawn(page, "#importance")
    assert len(page.query_selector_all("#trials tbody tr")) == 6
    _shot(page, tmp_path, "sweep")
    assert page.problems == []


def test_hostile_run_name_and_html_artifact_run_no_script(
    page: Any, site: tuple[str, UiStore], tmp_path: Path
) -> None:
    base, filled = site
    page.goto(f"{base}/runs/{filled.xss_run}?artifact=report.html")
    page.wait_for_selector("iframe[sandbox]")
    frame = next(f for f in page.frames if "artifact-frame" in f.url)
    frame.wait_for_load_state()
    assert "report" in frame.inner_text("body")
    assert frame.evaluate("() => window.__ran") is None
    assert page.evaluate("() => window.__xss") is None
    assert page.inner_text("h1").startswith("<script>")  # shown as text
    page.goto(f"{base}/experiments/{filled.synthetic_experiment}?cols=tags.note,params.model")
    page.wait_for_selector("#runs")
    assert page.evaluate("() => window.__xss") is None
    assert page.query_selector("#runs img") is None
    _shot(page, tmp_path, "hostile")
    assert page.problems == []
