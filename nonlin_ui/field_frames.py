"""The boundary's field in a playing time-lapse: each animation frame carries its field as a PNG in
layout.images (nonlin_core.field_image), but plotly plays frames without redraw (the only way to reach 20+
frames/s: a redraw paints the whole figure) and so never repaints a layout image. This script, once per
page, hooks every plotly chart's 'plotly_animatingframe' event (Play, the speeds and the slider all animate)
and swaps the <image> of each panel to that frame's field: no server message per frame."""
from __future__ import annotations

import streamlit as st

# one hook per chart element (plotly keeps the element across Streamlit's redraws); image i of the frame is
# layout image i (the <image> bound to it, read from its d3 datum's _index)
SCRIPT = """<script>(() => {
  if (window.__nonlinFieldFrames) return;
  window.__nonlinFieldFrames = true;
  const show = (gd, name) => {
    const hash = gd._transitionData && gd._transitionData._frameHash;
    const frame = hash && hash[name];
    const images = frame && frame.layout && frame.layout.images;
    if (!images) return;
    gd.querySelectorAll('.imagelayer image').forEach((el, n) => {
      const i = el.__data__ && el.__data__._index !== undefined ? el.__data__._index : n;
      const source = images[i] && images[i].source;
      if (source && el.getAttribute('href') !== source) el.setAttribute('href', source);
    });
  };
  const hook = () => {
    document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
      if (gd.__nonlinFields || typeof gd.on !== 'function') return;
      gd.__nonlinFields = true;
      gd.on('plotly_animatingframe', (e) => show(gd, e.name));
    });
    requestAnimationFrame(hook);
  };
  requestAnimationFrame(hook);
})();</script>"""


def install() -> None:
    """The script that shows each played frame's field (it runs once per page, whatever the reruns)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
