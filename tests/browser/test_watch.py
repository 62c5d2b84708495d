"""Real browser: watching a run learn. The finished run's time-lapse plays in the browser (no server message
while it plays), the lab controls drive the run from the page, and one click on an activation trains it while
the previous boundary stays on screen, dimmed. Screenshots go to artifacts/ (NONLIN_SHOTS: also there)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"
SHOTS = Path(os.environ.get("NONLIN_SHOTS", ARTIFACTS))
TRAIN_TIMEOUT_MS = 120_000
CHART = ".st-key-boundary .js-plotly-plot"
VIEWPORT = (1400, 1000)                                       # the page fixture (conftest)

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


# the three sizes when screenshots are asked for (NONLIN_SHOTS=folder); else the test's own size only: resizing
# mid-run is no part of what these tests check, and a live chart resized while it streams can miss a paint
SIZES = ((1400, 1000), (1280, 720), (1024, 768)) if os.environ.get("NONLIN_SHOTS") else (VIEWPORT,)


def shoot_sizes(page, name: str) -> None:
    """The viewport at each of SIZES: name_WxH.png."""
    size = page.viewport_size
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shoot(page, f"{name}_{w}x{h}.png")
    page.set_viewport_size(size)


def lab_button(page, name: str):
    """Pause, step1, ... (the button itself: with a help tooltip the container holds two nodes that match)."""
    return page.locator(f".st-key-btn_pg_{name} [data-testid^='stBaseButton']").first


def paused_epoch(page) -> int:
    status_starts(page, "Paused at epoch")
    return int(re.match(r"Paused at epoch (\d+)", page.inner_text(".st-key-run_status")).group(1))


def test_pause_step_reset_resume_and_stop_from_the_page(page, server):
    page.goto(server + "/?epochs=5000&seed=3&batch_size=16")     # ~50 steps an epoch: minutes
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Running")
    page.wait_for_function(f"() => {{ const gd = document.querySelector('{CHART}');"
                           " return gd && gd.layout.meta && gd.layout.meta.epoch >= 50; }")
    shoot_sizes(page, "watch_live")
    lab_button(page, "pause").click()
    k = paused_epoch(page)
    page.wait_for_selector(f"{CHART} .slider-group > .slider-label")       # the paused run: its time-lapse so far
    assert page.text_content(f"{CHART} .slider-group > .slider-label").startswith(f"epoch {k}")
    shoot_sizes(page, "watch_paused")
    lab_button(page, "step10").click()
    page.wait_for_function("(e) => document.querySelector('.st-key-run_status').innerText.startsWith("
                           "`Paused at epoch ${e} `)", arg=k + 10)
    lab_button(page, "step1").click()
    page.wait_for_function("(e) => document.querySelector('.st-key-run_status').innerText.startsWith("
                           "`Paused at epoch ${e} `)", arg=k + 11)
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 60, "y": 5})    # scrub back
    page.wait_for_function(f"(k) => !document.querySelector('{CHART} .slider-group > .slider-label').textContent"
                           ".startsWith(`epoch ${k}`)", arg=k + 11)
    shoot_sizes(page, "watch_scrubber")
    lab_button(page, "reset").click()
    status_starts(page, "Paused at epoch 0 /")                                # the same seed, untrained
    lab_button(page, "resume").click()
    status_starts(page, "Running")
    lab_button(page, "stop").click()
    status_starts(page, "Stopped")
    assert not real_errors(page), page.errors


def test_one_click_on_an_activation_trains_it_and_the_boundary_never_leaves(page, server):
    page.goto(server + "/?epochs=300&seed=5")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    page.wait_for_selector(f"{CHART} .slider-group > .slider-label")
    page.evaluate(SAMPLER)
    page.wait_for_function("() => window.__watch.samples.length > 0")
    before = samples(page)[-1]
    start = now(page)
    page.locator(".st-key-pg_activation button").filter(has_text=re.compile("^tanh$")).click()   # one click
    page.wait_for_function("() => location.search.includes('activation=tanh')")
    status_starts(page, "Done")
    page.wait_for_function(f"() => {{ const gd = document.querySelector('{CHART}');"
                           " return gd && gd.layout && gd.layout.meta && gd.layout.meta.epoch === 300; }")
    after = [s for s in samples(page) if s["t"] >= start]
    assert all(s["z"] for s in after), [s for s in after if not s["z"]]        # never a blank chart
    new = next(i for i, s in enumerate(after) if s["z"] != before["z"] and s["opacity"] == 1)
    assert all(s["z"] == before["z"] for s in after[:new]), after[:new + 1]   # until then: the previous boundary
    dimmed = [s for s in after[:new] if s["opacity"] < 1]
    print(f"\n[watch] after the click: {new} samples of the previous boundary, {len(dimmed)} of them dimmed")
    assert after[-1]["z"] != before["z"] and after[-1]["status"].startswith("Done")
    assert not real_errors(page), page.errors
