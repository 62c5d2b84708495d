"""The boundary stays on screen when its chart is replaced. A new figure is a new element in Streamlit 1.67 (the id
hashes the spec): when a run ends (its live chart gives way to the time-lapse), on a Train click or a stored run's
click, the old plot goes at once and the new one stays hidden (display: none) until Plotly has drawn it and its
size is measured: 0.4-0.9 s of no boundary, measured in chromium under load.

Streamlit may also keep the old element in the DOM, hidden (display: none), until the run that replaced it ends.
This script, once per page, checks on every animation frame: while a boundary plot is visible it remembers its
element and where it sits; when none is visible (on the same page: the run's next chart is on its way), a
static copy of the remembered element (its DOM cloned: the SVG, the field image; no events, no plotly classes)
stands where it was, until a boundary plot is visible again or BRIDGE_MS have passed."""
from __future__ import annotations

import streamlit as st

BRIDGE_MS = 4000

SCRIPT = """<script>(() => {
  if (window.__nonlinBridge) return;
  window.__nonlinBridge = true;
  let last = null;              // the boundary's element while it was drawn and visible, and where it sat
  const drawn = (gd) => gd && gd._fullLayout && gd.offsetParent !== null && getComputedStyle(gd).visibility !== 'hidden';
  const loop = () => {
    const boxes = Array.from(document.querySelectorAll('.st-key-boundary'));
    const shown = boxes.find((b) => drawn(b.querySelector('.js-plotly-plot')));
    const copy = document.querySelector('.nonlin-bridge');
    if (shown) {
      if (copy) copy.remove();
      last = {box: shown, parent: shown.parentNode, next: shown.nextSibling, page: location.pathname};
    } else if (copy) {
      if (performance.now() - copy.__since > BRIDGE_MS || location.pathname !== copy.__page) copy.remove();
    } else if (last && last.page === location.pathname && last.box.querySelector('.main-svg')) {
      const stand = last.box.cloneNode(true);          // as it looked: SVG, field image; no events, no classes
      [stand, ...stand.querySelectorAll('.js-plotly-plot')].forEach((e) => {
        e.classList.remove('js-plotly-plot', 'st-key-boundary');
      });
      stand.classList.add('nonlin-bridge');
      Object.assign(stand.style, {display: 'block', pointerEvents: 'none'});
      stand.__since = performance.now();
      stand.__page = last.page;
      const pending = boxes.find((b) => b.offsetParent !== null);     // the next chart's element, not drawn yet
      if (pending) {                                                 // over it: the page keeps its layout
        if (getComputedStyle(pending).position === 'static') pending.style.position = 'relative';
        Object.assign(stand.style, {position: 'absolute', top: '0', left: '0', width: '100%', zIndex: '3',
                                    background: 'white'});
        pending.appendChild(stand);
      } else if (last.box.isConnected) last.box.parentNode.insertBefore(stand, last.box);
      else if (last.parent.isConnected) {
        last.parent.insertBefore(stand, last.next && last.next.parentNode === last.parent ? last.next : null);
      }
      last = null;                                       // one stand-in per replacement
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})();</script>""".replace("BRIDGE_MS", str(BRIDGE_MS))


def install() -> None:
    """The script that keeps a replaced boundary on screen until its successor is drawn (once per page)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
