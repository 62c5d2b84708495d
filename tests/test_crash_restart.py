"""kill -9 of the real server in the middle of a run, then a restart on the same store: the finished run is still
served from the store, the killed one is listed as interrupted, and one click trains it again to done."""
from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from nonlin_core.config import RunConfig
from nonlin_core.store import SQLiteStore
from nonlin_ui.run_list import describe
from tests.support.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"
QUICK = RunConfig(dataset="moons", noise=0.2, batch_size=32, epochs=200, seed=11)       # ~1 s
LONG = RunConfig(dataset="moons", noise=0.2, batch_size=8, epochs=1500, seed=12)        # ~15-35 s here
RERUN_TIMEOUT_MS = 120_000


def playground_url(server: StreamlitServer, config: RunConfig) -> str:
    return f"{server.url}/?{urlencode(config.to_query())}"


def statuses(path: Path) -> dict[str, str]:
    """key -> status straight from the SQLite file (read-only: opening SQLiteStore would itself recover rows)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT key, status FROM runs").fetchall())


def stored(path: Path, key: str):
    """One record through the store's own reader (its recovery finds nothing to do: the server is alive)."""
    store = SQLiteStore(path)
    try:
        return store.get(key)
    finally:
        store.close()


def wait_status(page, word: str, timeout: int = 60_000) -> str:
    """Poll the Playground's status line (container key run_status) until it starts with word; its text."""
    page.wait_for_function("(w) => { const b = document.querySelector('.st-key-run_status');"
                           " return b && b.innerText.trim().startsWith(w); }", arg=word, timeout=timeout)
    return page.inner_text(".st-key-run_status").strip()


def runs_table(page) -> dict[str, str]:
    """The Runs page's table read from the grid's accessible copy: run description -> status cell."""
    page.wait_for_selector("[data-testid='stDataFrame'] table[role='grid'] tbody tr", state="attached",
                       timeout=30_000)
    rows = page.evaluate("() => Array.from(document.querySelectorAll("
                         "'[data-testid=stDataFrame] table[role=grid] tbody tr')).map((tr) =>"
                         " Array.from(tr.querySelectorAll('td')).map((td) => td.innerText.trim()))")
    return {cells[1]: cells[0] for cells in rows if len(cells) > 1}


def open_runs_page(page, server: StreamlitServer):
    """Home, then the Runs link of the top navigation, as a user goes. (A deep link /runs makes the frontend
    probe /runs/_stcore/health for its base path first: a 404 in the console that is no error of the app.
    Until app.py's first run reaches st.navigation, the frontend shows Streamlit's own sidebar list of pages/
    with lower-case names: not the link to click.)"""
    page.goto(server.url)
    page.get_by_role("link", name="Runs", exact=True).click(timeout=90_000)
    page.wait_for_function("() => location.pathname.endsWith('/runs')")
    return page


def shoot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height + 40, 4000))})
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


@pytest.fixture
def server(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "crash-server.log"
    log.unlink(missing_ok=True)
    srv = StreamlitServer(tmp_path / "runs.sqlite3", log)
    try:
        yield srv.start()
    finally:
        srv.stop()


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser):
    """A fresh session whose console errors and page errors land in page.errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
    page.on("response", lambda r: page.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    return page


def test_kill_9_mid_run_then_restart_keeps_done_and_reruns_interrupted(server, browser):
    store = server.store
    # 1. one short run to done, one long run killed with the server while it trains
    page = new_page(browser)
    page.goto(playground_url(server, QUICK))
    wait_status(page, "Not trained yet", timeout=90_000)        # the first page load warms the engine
    page.locator(".st-key-btn_pg_train button").click()
    assert wait_status(page, "Done").startswith(f"Done — {QUICK.epochs} epochs in ")
    page.goto(playground_url(server, LONG))
    wait_status(page, "Not trained yet")
    page.locator(".st-key-btn_pg_train button").click()
    running = wait_status(page, "Running")
    page.wait_for_function("() => { const gd = document.querySelector('.st-key-boundary .js-plotly-plot');"
                           " return gd && gd.layout.meta && gd.layout.meta.epoch >= 1; }", timeout=30_000)
    assert statuses(store) == {QUICK.key: "done", LONG.key: "running"}, running
    killed = server.pid
    server.kill()
    page.context.close()
    assert statuses(store) == {QUICK.key: "done", LONG.key: "running"}      # what the dead process left behind

    # 2. restart on the same store and port
    server.start()
    assert server.pid != killed
    runs = open_runs_page(new_page(browser), server)
    runs.wait_for_selector(".st-key-btn_rerun_all button", timeout=90_000)
    table = runs_table(runs)
    assert table == {describe(QUICK): "done", describe(LONG): "interrupted"}, table
    assert "Re-run all 1 interrupted" in runs.inner_text(".st-key-btn_rerun_all")
    shoot(runs, ARTIFACTS / "runs_after_restart.png")
    assert statuses(store) == {QUICK.key: "done", LONG.key: "interrupted"}
    record = stored(store, LONG.key)
    assert record.message == "the server stopped while this run was training; run it again"

    # 3. the finished run opens on the Playground straight from the store
    cached = new_page(browser)
    started = time.perf_counter()
    cached.goto(playground_url(server, QUICK))
    text = wait_status(cached, "Done", timeout=30_000)
    print(f"\n[crash] page load until the stored run shows: {time.perf_counter() - started:.2f} s")
    assert text.startswith(f"Done — {QUICK.epochs} epochs from the run store"), text
    assert cached.get_by_text("from cache").count() >= 1
    cached.wait_for_selector(".st-key-confusion .js-plotly-plot", timeout=30_000)     # final results drawn
    cached.context.close()

    # 4. one click re-runs the interrupted run; it streams on the Playground and ends done
    runs.locator(".st-key-btn_rerun_all button").click()
    runs.get_by_text("Started 1 run again").wait_for(timeout=30_000)
    follow = new_page(browser)
    follow.goto(playground_url(server, LONG))
    wait_status(follow, "Running", timeout=30_000)            # the re-run's live job, found by its config key
    started = time.perf_counter()
    text = wait_status(follow, "Done", timeout=RERUN_TIMEOUT_MS)
    print(f"[crash] re-run: {text.splitlines()[0]} (waited {time.perf_counter() - started:.1f} s)")
    assert text.startswith(f"Done — {LONG.epochs} epochs in "), text
    assert statuses(store) == {QUICK.key: "done", LONG.key: "done"}
    record = stored(store, LONG.key)
    assert record.state_dict is not None and len(record.history["epoch"]) == LONG.epochs

    first_runs, runs = runs, open_runs_page(new_page(browser), server)
    runs.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
    assert runs_table(runs) == {describe(QUICK): "done", describe(LONG): "done"}
    assert runs.locator(".st-key-btn_rerun_all").count() == 0
    pages = {"runs after restart": first_runs, "cached": cached, "follow": follow, "runs at the end": runs}
    errors = [f"{name}: {e}" for name, p in pages.items() for e in p.errors]
    assert not errors, errors
