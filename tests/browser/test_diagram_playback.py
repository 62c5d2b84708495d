"""The network diagram follows the boundary's time-lapse in chromium: scrubbing the boundary's slider to an early
epoch shows that epoch's diagram (title and thumbnails), and Play changes the diagram many times with no server
message meanwhile."""
from __future__ import annotations

import re

import pytest

from tests.browser.test_watch import CHART, LABEL, at_last_frame, plotly_button, real_errors, status_starts

pytestmark = pytest.mark.browser
NETWORK = ".st-key-network .js-plotly-plot"
EPOCHS = 400
BOUNDARY_FRAMES = 20      # what 1x plays in 2 s of the 400-epoch run's 120 frames over 8 s is 30

# the diagram as shown: its title, its layer images' sources (a hash each) and the frame's epoch the script chose
SHOWN = """() => {
  const gd = document.querySelector('NETWORK');
  const hash = (s) => { let h = 0; for (let i = 0; i < s.length; i += 7) h = (h * 31 + s.charCodeAt(i)) | 0;
                        return h + ':' + s.length; };
  if (!gd || !gd.layout) return null;
  return {title: gd.layout.title ? gd.layout.title.text : '', images: gd.layout.images.map((i) => hash(i.source)),
          drawn: Array.from(gd.querySelectorAll('.layer-above image')).map((i) => hash(i.getAttribute('href') || '')),
          timelapse: !!(gd.layout.meta && gd.layout.meta.timelapse)};
}""".replace("NETWORK", NETWORK)

# every change of the diagram's title or the boundary's epoch, sampled on each animation frame
SAMPLER = """() => {
  window.__net = [];
  const tick = () => {
    const gd = document.querySelector('NETWORK');
    const title = gd && gd.layout && gd.layout.title ? gd.layout.title.text : null;
    const label = LABEL;
    const epoch = label ? label.textContent.split(' ·')[0] : null;
    const all = window.__net, last = all[all.length - 1];
    if (!last || last.title !== title || last.epoch !== epoch) all.push({title, epoch, t: performance.now()});
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}""".replace("NETWORK", NETWORK).replace("LABEL", LABEL)

# the diagram's own frame of an epoch: its layer images' sources, hashed as SHOWN hashes them
FRAME = """(epoch) => {
  const gd = document.querySelector('NETWORK');
  const hash = (s) => { let h = 0; for (let i = 0; i < s.length; i += 7) h = (h * 31 + s.charCodeAt(i)) | 0;
                        return h + ':' + s.length; };
  const f = gd._transitionData._frames.find((f) => f.name === String(epoch));
  return f ? f.layout.images.map((i) => i.source ? hash(i.source) : null) : null;   // the inputs: none (unchanged)
}""".replace("NETWORK", NETWORK)


def label(page) -> str:
    return page.text_content(f"{CHART} .slider-group > .slider-label") or ""


def test_the_diagram_follows_the_scrubbed_and_played_time_lapse(page, server):
    page.goto(server + f"/?dataset=moons&hidden_layers=10,10&activation=tanh&epochs={EPOCHS}&seed=5")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-pg_watchable_pace label").click()          # no replay to wait for
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    at_last_frame(page, EPOCHS)
    page.wait_for_function(f"() => {{ const s = ({SHOWN})(); return s && s.timelapse; }}", timeout=60_000)
    last = page.evaluate(SHOWN)
    assert f"at epoch {EPOCHS}" in last["title"]
    assert last["drawn"] == last["images"] and len(last["images"]) == 4         # inputs, 2 layers, output
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 2, "y": 5})   # scrub to the start
    page.wait_for_function(f"() => /at epoch 0(<|$)/.test(({SHOWN})().title)", timeout=10_000)
    assert label(page).startswith("epoch 0")
    early = page.evaluate(SHOWN)
    assert early["images"][1:] == page.evaluate(FRAME, 0)[1:]     # epoch 0's thumbnails, drawn
    assert early["drawn"] == early["images"] and early["images"][1:] != last["images"][1:]
    assert early["images"][0] == last["images"][0]                 # the inputs do not learn
    page.evaluate(SAMPLER)
    received, start = len(page.received), page.evaluate("() => performance.now()")
    plotly_button(page, "▶ Play").click()
    page.wait_for_timeout(2000)                      # the test watches 2 s of playback (a window, not a timing goal)
    page.wait_for_function(f"() => new Set(window.__net.filter((s) => s.t >= {start}).map((s) => s.epoch)).size"
                           f" >= {BOUNDARY_FRAMES}", timeout=60_000)   # a busy box plays slower: as many frames
    played = [s for s in page.evaluate("() => window.__net") if s["t"] >= start]
    titles = {s["title"] for s in played}
    assert len(titles) >= 5, played                   # (every 3rd of the 120 recorded epochs is a diagram frame)
    assert len(page.received) == received, "the server sent messages while the diagram played"
    plotly_button(page, "❚❚ Pause").click()
    page.wait_for_timeout(300)
    shown = int(re.search(r"at epoch (\d+)", page.evaluate(SHOWN)["title"]).group(1))
    played = int(label(page).split(" ")[1])
    epochs = page.evaluate(f"() => document.querySelector('{NETWORK}').layout.meta.epochs")
    assert shown == max(e for e in epochs if e <= played)         # paused: the diagram at the boundary's epoch
    assert not real_errors(page), page.errors
