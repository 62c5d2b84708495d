"""The browser tests' shared fixtures: one real server per module (`nonlin ui`, its own store, its log in
artifacts/<module>-server.log), one chromium per module, and a fresh session per test that collects console and
page errors (page.errors) and the sizes of the websocket messages the server sends (page.received). A module may
set VIEWPORT = (width, height)."""
from __future__ import annotations

import shutil

import pytest

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer

ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """A real server on a free loopback port with its own run store; stopped at the end of the module."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    running = StreamlitServer(tmp_path_factory.mktemp(name) / "runs.sqlite3", ARTIFACTS / f"{name}-server.log")
    try:
        running.start(timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running.url
    running.stop()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(request, browser):
    """A fresh session (context); errors in page.errors, the server's websocket message sizes in page.received."""
    width, height = getattr(request.module, "VIEWPORT", (1440, 1000))
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.errors, pg.received = [], []
    pg.on("console", lambda m: pg.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
    pg.on("websocket", lambda ws: ws.on("framereceived", lambda payload: pg.received.append(len(payload))))
    yield pg
    context.close()
