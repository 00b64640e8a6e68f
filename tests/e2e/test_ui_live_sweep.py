"""A running sweep's page in a real Chromium follows the sweep without being reloaded:
new trial rows appear, the counts change and the history chart grows; when the sweep ends
the page reloads once for its final charts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tunetrack.store.sql.store import SqlStore
from ui_server import serve_ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TRIALS = 8
SWEEP = textwrap.dedent(
    f"""
    import time
    import tunetrack
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    def train(params):
        time.sleep(1.5)  # slow enough for the page to watch it
        X, y = load_iris(return_X_y=True)
        model = LogisticRegression(C=params["C"], max_iter=500)
        return {{"accuracy": float(cross_val_score(model, X, y, cv=3).mean())}}

    tunetrack.sweep.run(
        train,
        metric={{"name": "accuracy", "goal": "maximize"}},
        parameters={{"C": {{"distribution": "log_uniform", "min": 0.001, "max": 10}}}},
        method="random",
        budget={{"trials": {TRIALS}}},
        experiment="live",
        seed=1,
        tracking_uri=__import__("sys").argv[1],
        progress=False,
    )
    """
)


def _running_sweep(uri: str, proc: subprocess.Popen[bytes]) -> str:
    """The sweep's id once it has a finished trial and more to run."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sweep ended before the page could watch it"
        store = SqlStore(uri)
        try:
            live = store.get_experiment_by_name("live")
            if live is not None:
                finished = store.search_runs(
                    [live.experiment_id],
                    "tags.`tunetrack.run_type` = 'trial' AND attributes.status = 'FINISHED'",
                )
                if finished:
                    return finished[0].info.parent_run_id or ""
        finally:
            store.close()
        time.sleep(0.2)
    raise AssertionError("no trial finished within 120 s")


def test_running_sweep_page_follows_the_sweep_without_reloading(page: Any, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/live.db"
    script = tmp_path / "live_sweep.py"
    script.write_text(SWEEP)
    with serve_ui(uri, tmp_path) as base:
        proc = subprocess.Popen([sys.executable, str(script), uri], cwd=tmp_path)
        try:
            sweep_id = _running_sweep(uri, proc)
            page.goto(f"{base}/sweeps/{sweep_id}")
            page.wait_for_selector("#history svg.main-svg", timeout=30_000)
            page.evaluate("window.stillTheSamePage = true")
            first_rows = len(page.query_selector_all("#trials tbody tr"))
            first_points = page.evaluate("document.getElementById('history').data[0].x.length")
            assert first_rows < TRIALS
            page.wait_for_function(
                f"window.stillTheSamePage && "
                f"document.querySelectorAll('#trials tbody tr').length > {first_rows} && "
                f"document.getElementById('history').data[0].x.length > {first_points}",
                timeout=60_000,
            )
            page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
            assert proc.wait(timeout=120) == 0
            page.wait_for_function(  # the end of the sweep: reloaded once, all trials shown
                "!window.stillTheSamePage && "
                f"document.querySelectorAll('#trials tbody tr').length === {TRIALS}",
                timeout=60_000,
            )
            assert "FINISHED" in page.inner_text("h1")
        finally:
            if proc.poll() is None:
                proc.kill()
    assert page.problems == []
