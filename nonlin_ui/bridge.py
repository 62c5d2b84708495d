"""The boundary stays on screen when its chart is replaced. A new figure is a new element in Streamlit 1.67 (the id
hashes the spec): when a run ends (its live chart gives way to the time-lapse), on a Train click or a stored run's
click, the old plot goes at once and the new one stays hidden (display: none) until Plotly has drawn it and its
size is measured: 0.4-0.9 s of no boundary, measured in chromium under load.

Streamlit may also keep the old element in the DOM, hidden (display: none), until the run that replaced it ends.
This script, once per page, checks on every animation frame: while a boundary plot is visible it keeps a detached
copy of its element (its DOM cloned: the SVG, the field image; no events, no plotly classes), retaken every
REFRESH_MS and once more as the plot goes if its SVG is still there (React may have purged it first). When none is
visible (on the same page: the run's next chart is on its way), that copy stands over the successor's element, or
where the old one sat, until a boundary plot is drawn again. It is put back if its place goes (a successor replaced
before it was ever drawn, or hidden), so a chain of replacements on a loaded server (dimmed previous boundary → live
chart → time-lapse) shows no blank. It gives up after PENDING_MS while a successor's element is on the page, after
BRIDGE_MS while none is."""
from __future__ import annotations

import streamlit as st

BRIDGE_MS = 4000        # no boundary element on the page: the copy goes after this long
PENDING_MS = 30000      # a successor's element is there, not drawn yet (a loaded server may take seconds)
REFRESH_MS = 1000       # the remembered look of a shown boundary is at most this old (and retaken as it goes);
                        # a copy costs ~5-10 ms of the page's main thread on 2 busy cores

SCRIPT = ("""<script>(() => {
  if (window.__nonlinBridge) return;
  window.__nonlinBridge = true;
  // snap: how the boundary last looked while drawn and visible (a detached copy of its element, refreshed every
  // REFRESH_MS and taken again at the moment it goes if it still has its SVG then), where it sat and on which page;
  // lost: when it went. A copy of snap stays on screen until a boundary plot is drawn again.
  let snap = null, lost = null, shownBox = null, taken = 0;
  const drawn = (gd) => gd && gd._fullLayout && gd.offsetParent !== null && getComputedStyle(gd).visibility !== 'hidden';
  const take = (box) => {
    const copy = box.cloneNode(true);                // as it looked: SVG, field image; no events, no classes
    [copy, ...copy.querySelectorAll('.js-plotly-plot')].forEach((e) => e.classList.remove('js-plotly-plot', 'st-key-boundary'));
    copy.classList.add('nonlin-bridge');
    Object.assign(copy.style, {display: 'block', pointerEvents: 'none'});
    return copy;
  };
  const place = (stand, boxes) => {
    const pending = boxes.find((b) => b.offsetParent !== null);     // the next chart's element, not drawn yet
    if (pending) {                                                 // over it: the page keeps its layout
      if (getComputedStyle(pending).position === 'static') pending.style.position = 'relative';
      Object.assign(stand.style, {position: 'absolute', top: '0', left: '0', width: '100%', zIndex: '3',
                                  background: 'white'});
      pending.appendChild(stand);
      return true;
    }
    Object.assign(stand.style, {position: '', top: '', left: '', zIndex: '', background: ''});
    const old = snap.box;
    if (old.isConnected && old.parentNode) { old.parentNode.insertBefore(stand, old); return true; }
    if (snap.parent.isConnected) {
      snap.parent.insertBefore(stand, snap.next && snap.next.parentNode === snap.parent ? snap.next : null);
      return true;
    }
    return false;
  };
  const loop = () => {
    const now = performance.now();
    const boxes = Array.from(document.querySelectorAll('.st-key-boundary'));
    const shown = boxes.find((b) => drawn(b.querySelector('.js-plotly-plot')));
    let copy = document.querySelector('.nonlin-bridge');
    if (shown) {
      if (copy) copy.remove();
      if (shown !== shownBox || now - taken > REFRESH_MS) {
        snap = {box: shown, parent: shown.parentNode, next: shown.nextSibling, page: location.pathname, copy: take(shown)};
        shownBox = shown;
        taken = now;
      }
      lost = null;
    } else if (snap && snap.page === location.pathname) {
      if (lost === null) {
        lost = now;
        if (snap.box.querySelector('.main-svg')) snap.copy = take(snap.box);     // its latest look, if still there
        shownBox = null;
      }
      const pending = boxes.some((b) => b.offsetParent !== null);
      if (now - lost > (pending ? PENDING_MS : BRIDGE_MS)) {            // no successor coming: give up
        if (copy) copy.remove();
        snap = null;
      } else if (!copy || copy.offsetParent === null) {     // none yet, or its place went (removed or hidden)
        if (copy) copy.remove();
        const stand = snap.copy.cloneNode(true);
        stand.__since = now;
        place(stand, boxes);
      }
    } else if (copy) {
      copy.remove();
      snap = null;
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})();</script>""".replace("PENDING_MS", str(PENDING_MS)).replace("BRIDGE_MS", str(BRIDGE_MS))
          .replace("REFRESH_MS", str(REFRESH_MS)))


def install() -> None:
    """The script that keeps a replaced boundary on screen until its successor is drawn (once per page)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
