"""Browser tests: Debian's chromium driven by Playwright, headless, against ``tunetrack ui``.

Install with ``apt-get install -y chromium`` and ``pip install playwright`` (the Python
package only: ``playwright install`` is not needed, the system chromium is launched). Without
either the tests skip with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ui_server import UiStore, fill_store, serve_ui

CHROMIUM = os.environ.get("TUNETRACK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")  # sync_playwright runs an event loop: end it with the module
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def site(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, UiStore]]:
    """``tunetrack ui`` over a filled store: (base URL, what the store holds)."""
    filled = fill_store(tmp_path_factory.mktemp("ui"))
    with serve_ui(filled.uri, tmp_path_factory.mktemp("ui-logs")) as base:
        yield base, filled


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records script errors and dialogs (an alert is a failure)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda exc: tab.problems.append(f"script error: {exc}"))
    tab.on("dialog", lambda d: (tab.problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        yield tab
    finally:
        context.close()
