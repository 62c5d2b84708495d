"""A shared link opened first thing on a fresh server: app.py's navigation must run it, not Streamlit's
old pages/ fallback (which ran pages/compare.py bare: a traceback under a lower-case page list)."""
from __future__ import annotations

import pytest

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer

pytestmark = pytest.mark.browser


def test_first_visit_of_a_fresh_server_may_be_a_deep_link(tmp_path):
    from playwright.sync_api import sync_playwright

    server = StreamlitServer(tmp_path / "runs.sqlite3", ROOT / "artifacts" / "deep-link-server.log").start(timeout=60)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/compare", timeout=60_000)
            page.get_by_role("heading", name="Compare").wait_for(timeout=90_000)
            page.get_by_role("link", name="Playground", exact=True).wait_for(timeout=30_000)   # app.py's navigation
            page.get_by_role("button", name="Train").wait_for(timeout=60_000)                   # the page ran whole
            assert page.query_selector("[data-testid=stException]") is None, page.inner_text("[data-testid=stException]")
            assert page.title().startswith("nonlin"), page.title()                         # app.py's page config
            assert not page.get_by_role("link", name="compare", exact=True).count()       # no bare pages/ list
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
