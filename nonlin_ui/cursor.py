"""The curves' cursor: while the boundary's time-lapse plays or is scrubbed in the browser, a vertical line on
the loss and accuracy curves marks the shown epoch. A small script in the page follows the slider's label
("epoch N · test acc … · test loss …", the metrics at that epoch) and places the line with the curves' own axes,
so playing and scrubbing still cost no server message. The Compare page's curves follow its all-models player.
Without a slider (a run training live) there is no line: the curves end at the shown epoch."""
from __future__ import annotations

import json

import streamlit as st

BOUNDARY = ".st-key-boundary .js-plotly-plot"
# (selector) => the element on screen: Streamlit may keep a hidden copy of an element (display: none) for a moment
# around a rerun, first in the page, with an older figure
VISIBLE = "((selector) => Array.from(document.querySelectorAll(selector)).find((e) => e.offsetParent !== null) || null)"
# (selector) => the epoch its time-lapse slider shows ("epoch N · …"), or null: every page script following it reads this
# (a script splicing it in expands VISIBLE( after it, as every script using VISIBLE does)
SLIDER_EPOCH = """(selector) => {
  const gd = VISIBLE(selector);
  const label = gd && gd.querySelector('.slider-group > .slider-label');
  const found = label && /^epoch (\\d+)/.exec(label.textContent || '');
  return found ? +found[1] : null;
}"""
# (the time-lapse whose slider gives the epoch, the curves that show it): the Playground's and the Compare page's
PAIRS = [(BOUNDARY, ".st-key-curves .js-plotly-plot"),
         (".st-key-cmp_timelapse .js-plotly-plot", ".st-key-cmp_curves .js-plotly-plot")]

# one loop per page (the flag): on every animation frame, cheap reads; the line moves only when the epoch, the
# curves' size or the chart itself changed (a redraw or a resize)
SCRIPT = ("""<script>(() => {
  if (window.__nonlinCursor) return;
  window.__nonlinCursor = true;
  const drawnFor = {};
  const sliderEpoch = SLIDER_EPOCH;
  const place = () => { PAIRS.forEach(([b, c]) => placeFor(b, c)); requestAnimationFrame(place); };
  const placeFor = (BOUNDARY, CURVES) => {
    const cg = VISIBLE(CURVES);
    const fl = cg && cg._fullLayout;
    const box = cg && cg.querySelector('.svg-container');
    if (!box || !fl) return;
    const epoch = sliderEpoch(BOUNDARY);
    const lines = box.querySelectorAll('.nonlin-cursor');
    const xa0 = fl.xaxis;                  // a new figure diffed into the same chart (a new run) may move the axes
    const state = [epoch, fl.width, fl.height, lines.length, xa0 && xa0.range, xa0 && xa0._offset].join(':');
    if (state !== drawnFor[CURVES]) {
      drawnFor[CURVES] = state;
      ['', '2'].forEach((suffix, i) => {
        const xa = fl['xaxis' + suffix], ya = fl['yaxis' + suffix];
        if (!xa || !ya || !xa.l2p) return;
        let line = box.querySelector('.nonlin-cursor-' + i);
        if (!line) {
          line = document.createElement('div');
          line.className = 'nonlin-cursor nonlin-cursor-' + i;
          line.style.cssText = 'position:absolute;width:0;border-left:2px solid rgba(17,24,39,0.55);' +
            'pointer-events:none;z-index:5';
          box.appendChild(line);
          drawnFor[CURVES] = '';
        }
        const range = xa.range.map(Number), x = Math.min(Math.max(epoch || 0, range[0]), range[1]);
        line.style.display = epoch === null ? 'none' : 'block';
        line.style.left = (xa._offset + xa.l2p(x) - 1) + 'px';
        line.style.top = ya._offset + 'px';
        line.style.height = ya._length + 'px';
        line.dataset.epoch = epoch === null ? '' : String(epoch);
      });
    }
  };
  requestAnimationFrame(place);
})();</script>""".replace("SLIDER_EPOCH", SLIDER_EPOCH).replace("PAIRS", json.dumps(PAIRS))
          .replace("VISIBLE(", VISIBLE + "("))


def install() -> None:
    """The script that draws the cursor (it runs once per page, whatever the reruns)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
