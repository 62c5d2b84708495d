"""The browser tests' shared fixtures: one real server per module (`nonlin ui`, its own store, its log in
artifacts/<module>-server.log), one chromium per module, and a fresh session per test that collects console and
page errors (page.errors) and the sizes of the websocket messages the server sends (page.received). A module may
set VIEWPORT = (width, height)."""
from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Error as PlaywrightError

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
    request.module.SERVER_LOG = running.log                    # for a failed test's report (failure_report)
    yield running.url
    running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item (rep_setup, rep_call), for the page fixture's failure report."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# what a failed test's page showed: its status line, Streamlit's alerts and dialogs (an error the frontend shows, e.g.
# "Bad message format", is a dialog, not a page error), the script's state
PAGE_STATE = """() => {
  const text = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.innerText.trim()).filter(Boolean);
  const app = document.querySelector('[data-testid=stApp]');
  return {url: location.href, script: app ? app.dataset.testScriptState : null,
          connection: app ? app.dataset.testConnectionState : null, status: text('.st-key-run_status'),
          alerts: text('[data-testid=stAlert], [data-testid=stException]'), dialogs: text('[role=dialog]'),
          boundary: Array.from(document.querySelectorAll('.st-key-boundary .js-plotly-plot')).map((gd) => {
            const td = gd._transitionData, slider = gd._fullLayout && (gd._fullLayout.sliders || [])[0];
            return {shown: gd.offsetParent !== null, drawn: !!gd._fullLayout, meta: gd.layout ? gd.layout.meta : null,
                    frames: td ? td._frames.length : null, queued: td && td._frameQueue ? td._frameQueue.length : null,
                    animating: td ? !!td._animationRaf : null, slider: slider ? slider.active : null,
                    frame: gd._fullLayout ? gd._fullLayout._currentFrame : null};
          })};
}"""


def failure_report(request, pg) -> str:
    """What a failed browser test's page showed, its errors and the tail of the module's server log (added to the
    failure's report, so CI prints it); a screenshot in artifacts/."""
    lines = []
    try:
        lines.append(f"page: {pg.evaluate(PAGE_STATE)}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name[:80]}.png"))
    except PlaywrightError as exc:
        lines.append(f"page unreadable: {exc}")
    lines.append(f"page errors: {pg.errors[-20:]}")
    log = getattr(request.module, "SERVER_LOG", None)
    if log is not None and log.exists():
        lines += ["server log, last 40 lines:", *log.read_text(errors="replace").splitlines()[-40:]]
    return "\n".join(lines)


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
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        failed.sections.append(("the page at the failure", failure_report(request, pg)))
    context.close()
