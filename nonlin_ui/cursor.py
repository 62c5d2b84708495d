"""The curves' cursor: while the boundary's time-lapse plays or is scrubbed in the browser, a vertical line on
the loss and accuracy curves marks the shown epoch. A small script in the page follows the slider's label
("epoch N · test acc … · test loss …", the metrics at that epoch) and places the line with the curves' own axes,
so playing and scrubbing still cost no server message. Without a slider (a run training live) there is no line:
the curves end at the shown epoch."""
from __future__ import annotations

import streamlit as st

BOUNDARY = ".st-key-boundary .js-plotly-plot"
CURVES = ".st-key-curves .js-plotly-plot"

# one loop per page (the flag): on every animation frame, cheap reads; the line moves only when the epoch, the
# curves' size or the chart itself changed (a redraw or a resize)
SCRIPT = """<script>(() => {
  if (window.__nonlinCursor) return;
  window.__nonlinCursor = true;
  let drawn = '';
  const place = () => {
    const gd = document.querySelector('BOUNDARY');
    const label = gd && gd.querySelector('.slider-group > .slider-label');
    const found = label && /^epoch (\\d+)/.exec(label.textContent || '');
    const cg = document.querySelector('CURVES');
    const fl = cg && cg._fullLayout;
    const box = cg && cg.querySelector('.svg-container');
    if (!box || !fl) { requestAnimationFrame(place); return; }
    const epoch = found ? +found[1] : null;
    const lines = box.querySelectorAll('.nonlin-cursor');
    const state = [epoch, fl.width, fl.height, lines.length].join(':');
    if (state !== drawn) {
      drawn = state;
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
          drawn = '';
        }
        const range = xa.range.map(Number), x = Math.min(Math.max(epoch || 0, range[0]), range[1]);
        line.style.display = epoch === null ? 'none' : 'block';
        line.style.left = (xa._offset + xa.l2p(x) - 1) + 'px';
        line.style.top = ya._offset + 'px';
        line.style.height = ya._length + 'px';
        line.dataset.epoch = epoch === null ? '' : String(epoch);
      });
    }
    requestAnimationFrame(place);
  };
  requestAnimationFrame(place);
})();</script>""".replace("BOUNDARY", BOUNDARY).replace("CURVES", CURVES)


def install() -> None:
    """The script that draws the cursor (it runs once per page, whatever the reruns)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
