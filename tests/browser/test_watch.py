"""Real browser: watching a run learn. The finished run's time-lapse plays in the browser (no server message
while it plays), the lab controls drive the run from the page, and one click on an activation trains it while
the previous boundary stays on screen, dimmed. Screenshots go to artifacts/ (NONLIN_SHOTS: also there)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"
SHOTS = Path(os.environ.get("NONLIN_SHOTS", ARTIFACTS))
TRAIN_TIMEOUT_MS = 120_000
CHART = ".st-key-boundary .js-plotly-plot"

# On every animation frame: the boundary chart's shown epoch (the slider's label or layout.meta), a hash of its
# heatmap's z and its opacity, and the status line; a sample is kept when any of them changed.
SAMPLER = """() => {
  if (window.__watch) return;
  window.__watch = {samples: []};
  const sig = (z) => {
    if (!z) return null;
    const s = (typeof z === 'object' && z.bdata) ? z.bdata : (z.buffer ? Array.from(z).join(',') : JSON.stringify(z));
    let h = 0;
    for (let i = 0; i < s.length; i += 3) h = (h * 31 + s.charCodeAt(i)) | 0;
    return h + ':' + s.length;
  };
  const tick = () => {
    const gd = document.querySelector('""" + CHART + """');
    const heat = gd && gd.data ? gd.data.find((t) => t.type === 'heatmap') : null;
    const label = gd ? gd.querySelector('.slider-group > .slider-label') : null;
    const box = document.querySelector('.st-key-run_status');
    const rec = {label: label ? label.textContent : null,
                 epoch: gd && gd.layout && gd.layout.meta ? gd.layout.meta.epoch : null,
                 z: heat ? sig(heat.z) : null, opacity: heat ? (heat.opacity ?? 1) : null,
                 status: box ? box.innerText.trim().split('\\n')[0] : ''};
    const all = window.__watch.samples, last = all[all.length - 1];
    if (!last || ['label', 'epoch', 'z', 'opacity', 'status'].some((k) => last[k] !== rec[k])) {
      rec.t = performance.now();
      all.push(rec);
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("watch")
    running = StreamlitServer(tmp / "runs.sqlite3", ARTIFACTS / "watch-server.log")
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
def page(browser):
    """A fresh session; console and page errors in page.errors; server websocket messages in page.received."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.errors, pg.received = [], []
    pg.on("console", lambda m: pg.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
    pg.on("websocket", lambda ws: ws.on("framereceived", lambda payload: pg.received.append(len(payload))))
    yield pg
    context.close()


def status_starts(page, word: str, timeout: int = TRAIN_TIMEOUT_MS) -> None:
    page.wait_for_function("(w) => { const b = document.querySelector('.st-key-run_status');"
                           " return b && b.innerText.trim().startsWith(w); }", arg=word, timeout=timeout)


def samples(page) -> list[dict]:
    return page.evaluate("() => window.__watch.samples")


def now(page) -> float:
    return page.evaluate("() => performance.now()")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def real_errors(page) -> list[str]:
    """Page errors, less the one plotly.js raises by design when Pause interrupts an animation (it rejects the
    interrupted animation's promise with undefined)."""
    return [e for e in page.errors if e != "pageerror: undefined"]


def plotly_button(page, label: str):
    return page.locator(f"{CHART} .updatemenu-button").filter(has_text=label)


def test_a_finished_run_plays_in_the_browser_without_the_server(page, server):
    page.goto(server + "/?epochs=400")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    page.wait_for_function(f"() => {{ const gd = document.querySelector('{CHART}');"
                           " return gd && gd._transitionData && gd._transitionData._frames.length >= 100; }")
    page.wait_for_selector(f"{CHART} .slider-group > .slider-label")
    page.evaluate(SAMPLER)
    assert re.match(r"epoch 400 · test acc \d", page.text_content(f"{CHART} .slider-group > .slider-label"))
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 2, "y": 5})   # scrub to the start
    page.wait_for_function(f"() => document.querySelector('{CHART} .slider-group > .slider-label').textContent"
                           ".startsWith('epoch 0')")
    received, start = len(page.received), now(page)
    plotly_button(page, "2×").click()
    page.wait_for_timeout(2000)                      # the test watches 2 s of playback (a window, not a timing goal)
    played = [s for s in samples(page) if s["t"] >= start]
    zs, labels = {s["z"] for s in played}, {s["label"] for s in played}
    assert len(zs) >= 10 and len(labels) >= 10, played
    assert len(page.received) == received, "the server sent messages during playback"
    shoot(page, "watch_scrubber_1400x1000.png")
    plotly_button(page, "❚❚ Pause").click()
    assert not real_errors(page), page.errors
