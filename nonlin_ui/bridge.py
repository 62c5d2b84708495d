"""The boundary stays on screen when its chart is replaced. A new figure is a new element in Streamlit 1.67 (the id
hashes the spec): when a run ends (its live chart gives way to the time-lapse), on a Train click or a stored run's
click, the old plot is removed at once and the new one stays hidden (display: none) until Plotly has drawn it and
its size is measured: 0.4-0.9 s of no boundary, measured in chromium under load.

This script, once per page, watches the page: when the boundary's plot (or its element) is removed and no boundary
plot is visible, a static copy of what was removed (its DOM cloned: the SVG, the field image; no events, no plotly
classes) is put back where it was, until a boundary plot is visible again or BRIDGE_MS have passed."""
from __future__ import annotations

import streamlit as st

BRIDGE_MS = 4000

SCRIPT = """<script>(() => {
  if (window.__nonlinBridge) return;
  window.__nonlinBridge = true;
  const visible = () => Array.from(document.querySelectorAll('.st-key-boundary .js-plotly-plot'))
    .some((gd) => gd.offsetParent !== null && gd._fullLayout);
  const settle = (copy, t0) => {
    if (!copy.isConnected || visible() || performance.now() - t0 > BRIDGE_MS) copy.remove();
    else requestAnimationFrame(() => settle(copy, t0));
  };
  new MutationObserver((records) => {
    for (const r of records) for (const node of r.removedNodes) {
      if (node.nodeType !== 1 || !r.target.isConnected || r.target.offsetParent === null) continue;
      const old = node.matches('.js-plotly-plot') ? node : node.querySelector('.js-plotly-plot');
      const inBoundary = node.matches('.st-key-boundary') || node.querySelector('.st-key-boundary')
        || (r.target.closest && r.target.closest('.st-key-boundary'));
      if (!old || !inBoundary || !old.querySelector('.main-svg') || visible()) continue;
      if (document.querySelector('.nonlin-bridge')) continue;
      const copy = node.cloneNode(true);           // where the old plot was, as it looked
      [copy, ...copy.querySelectorAll('.js-plotly-plot, .st-key-boundary')].forEach((e) => {
        e.classList.remove('js-plotly-plot', 'st-key-boundary');
      });
      copy.classList.add('nonlin-bridge');
      copy.style.pointerEvents = 'none';
      const next = r.nextSibling && r.nextSibling.parentNode === r.target ? r.nextSibling : null;
      r.target.insertBefore(copy, next);
      settle(copy, performance.now());
    }
  }).observe(document.body, {childList: true, subtree: true});
})();</script>""".replace("BRIDGE_MS", str(BRIDGE_MS))


def install() -> None:
    """The script that keeps a replaced boundary on screen until its successor is drawn (once per page)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
