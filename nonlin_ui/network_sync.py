"""The network diagram follows the boundary's time-lapse: while it is scrubbed or played in the browser, a small
script in the page reads the slider's label ("epoch N · …", as the curves' cursor does) on every animation frame
and shows the diagram's frame of that epoch (the last recorded at or before it) with plotly's own animate, so
scrubbing and playing still cost no server message. A live diagram (no meta.timelapse) is left alone."""
from __future__ import annotations

import streamlit as st

from .cursor import BOUNDARY, SLIDER_EPOCH, VISIBLE

NETWORK = ".st-key-network .js-plotly-plot"

# one loop per page (the flag); the diagram is animated only when the epoch to show changed, or after a rerun
# replaced its figure (a new layout object: it shows its own meta.epoch again)
SCRIPT = ("""<script>(() => {
  if (window.__nonlinNetworkSync) return;
  window.__nonlinNetworkSync = true;
  const sliderEpoch = SLIDER_EPOCH;
  const follow = () => {
    const epoch = sliderEpoch('BOUNDARY');
    const ng = VISIBLE('NETWORK');
    const meta = ng && ng.layout && ng.layout.meta;
    if (ng && meta && meta.timelapse && window.Plotly && ng._fullLayout) {
      if (ng.__nonlinLayout !== ng.layout) {
        ng.__nonlinLayout = ng.layout;
        ng.__nonlinShown = meta.epoch;
      }
      if (epoch !== null) {
        let pick = meta.epochs[0];
        for (const e of meta.epochs) if (e <= epoch) pick = e;
        if (pick !== ng.__nonlinShown) {
          ng.__nonlinShown = pick;
          ng.dataset.epoch = String(pick);
          window.Plotly.animate(ng, [String(pick)], {frame: {duration: 0, redraw: true}, mode: 'immediate',
                                                      transition: {duration: 0}});
        }
      }
    }
    requestAnimationFrame(follow);
  };
  requestAnimationFrame(follow);
})();</script>""".replace("SLIDER_EPOCH", SLIDER_EPOCH).replace("VISIBLE(", VISIBLE + "(").replace("BOUNDARY", BOUNDARY)
          .replace("NETWORK", NETWORK))


def install() -> None:
    """The script that keeps the diagram at the boundary's epoch (it runs once per page, whatever the reruns)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
