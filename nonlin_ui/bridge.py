"""The boundary stays on screen when its chart is replaced, and a run the page has shown comes back at once.

A new figure is a new element in Streamlit 1.67 (the id hashes the spec): the old plot goes at once and the new one
stays hidden (display: none) until Plotly has drawn it and its size is measured: 0.4-0.9 s of no boundary, measured
in chromium under load. Streamlit may also keep the old element in the DOM, hidden (display: none), until the run
that replaced it ends. The Playground's boundary is one chart for the page's life (nonlin_ui.live_patch: live frames
and time-lapses alike are patches), but a new view is a new chart: other data, projector mode, another page's
boundary (the Challenge's).

This script, once per page, checks on every animation frame: while a boundary plot is visible it keeps a detached
copy of its element (its DOM cloned: the SVG, the field image; no events, no plotly classes), retaken every
REFRESH_MS and once more as the plot goes if its SVG is still there (React may have purged it first). When none is
visible (on the same page: the run's next chart is on its way), that copy stands over the successor's element, or
where the old one sat, until a boundary plot is drawn again. It is put back if its place goes (a successor replaced
before it was ever drawn, or hidden), so a chain of replacements on a loaded server (dimmed previous boundary → live
chart → time-lapse) shows no blank. It gives up after PENDING_MS while a successor's element is on the page, after
BRIDGE_MS while none is.

A run the page has shown, back at once (the album; nonlin_ui.live_patch draws the newest of them again as the chart
itself in the click's turn, and then this picture is not needed: it covers the older ones): a finished run's
time-lapse names its run (layout.meta.run, the config's key); the script keeps a copy of its look at its last
epoch, one per run (the newest ALBUM). The page sends, per control, which run each of its buttons would select (`next_runs`: the
activation pills' configs' keys). A click on such a button, when the album has that run, shows its copy over the
boundary in the click's own turn (the server's answer, a rerun and that run's time-lapse, takes 0.6-1 s on 2 busy
cores), until another run is drawn on the boundary (live_patch keeps the shown run's key on the chart: normally that
run's own time-lapse, the same picture) or another boundary plot is drawn, for at most PREVIEW_MS.
The copy is a picture: the slider and Play work once the chart is drawn."""
from __future__ import annotations

import json

import streamlit as st

BRIDGE_MS = 4000        # no boundary element on the page: the copy goes after this long
PENDING_MS = 30000      # a successor's element is there, not drawn yet (a loaded server may take seconds)
REFRESH_MS = 1000       # the remembered look of a shown boundary is at most this old (and retaken as it goes);
                        # a copy costs ~5-10 ms of the page's main thread on 2 busy cores
ALBUM = 12              # finished runs' looks kept by the page
PREVIEW_MS = BRIDGE_MS  # a clicked run's remembered look stays at most this long without a new boundary plot
NEXT_MARK = "nonlin-next-runs"   # the <script> class of next_runs' map, for tests that read it back
# (click event) => the key of the run the clicked button selects (next_runs' map), or null: spliced into the page
# scripts that answer such a click at once (this one's picture, nonlin_ui.live_patch's chart)
CLICKED_RUN = """((e) => {
  const next = window.__nonlinNext || {};
  for (const slot of Object.keys(next)) {
    const button = e.target.closest ? e.target.closest(`.st-key-${slot} button`) : null;
    if (button && !button.disabled) return next[slot][button.innerText.trim()] || null;
  }
  return null;
})"""

SCRIPT = ("""<script>(() => {
  if (window.__nonlinBridge) return;
  window.__nonlinBridge = {taken: 0};     // taken: when the shown boundary's look was last copied (for tests)
  // snap: how the boundary last looked while drawn and visible (a detached copy of its element, refreshed every
  // REFRESH_MS and taken again at the moment it goes if it still has its SVG then), where it sat and on which page;
  // lost: when it went. A copy of snap stays on screen until a boundary plot is drawn again.
  let snap = null, lost = null, shownBox = null, taken = 0;
  // album: run key -> its look at its last epoch (Map order: oldest first); preview: a clicked run's look on screen
  const album = new Map();
  let preview = null;
  const drawn = (gd) => gd && gd._fullLayout && gd.offsetParent !== null && getComputedStyle(gd).visibility !== 'hidden';
  const take = (box, mark = 'nonlin-bridge') => {
    const copy = box.cloneNode(true);                // as it looked: SVG, field image; no events, no classes
    copy.querySelectorAll('.nonlin-bridge, .nonlin-preview, .modebar-container').forEach((e) => e.remove());
    [copy, ...copy.querySelectorAll('.js-plotly-plot')].forEach((e) => e.classList.remove('js-plotly-plot', 'st-key-boundary'));
    // plotly's stylesheet stacks its SVG layers (the plot; titles, legend, colour bar, slider) by .js-plotly-plot
    copy.querySelectorAll('.main-svg').forEach((e) => Object.assign(e.style, {position: 'absolute', top: '0', left: '0'}));
    copy.classList.add(mark);
    Object.assign(copy.style, {display: 'block', pointerEvents: 'none'});
    return copy;
  };
  const boundaries = () => Array.from(document.querySelectorAll('.st-key-boundary'));
  const shownIn = (boxes) => boxes.find((b) => drawn(b.querySelector('.js-plotly-plot')));   // the one on screen
  const atLastEpoch = (gd) => {
    const slider = gd._fullLayout.sliders && gd._fullLayout.sliders[0];
    return !!slider && slider.steps && slider.active === slider.steps.length - 1;
  };
  const remember = (box) => {                        // a finished run's look at its last epoch, once per plot
    const gd = box.querySelector('.js-plotly-plot');
    const run = gd.layout && gd.layout.meta && gd.layout.meta.run;
    if (!run || gd.__nonlinAlbum === run || !atLastEpoch(gd)) return;
    gd.__nonlinAlbum = run;
    album.delete(run);
    album.set(run, take(box, 'nonlin-preview'));
    while (album.size > ALBUM) album.delete(album.keys().next().value);
  };
  document.addEventListener('click', (e) => {         // capture: before Streamlit's own handler sends the change
    const run = CLICKED_RUN(e);
    const box = run && shownIn(boundaries());
    const gd = box && box.querySelector('.js-plotly-plot');
    if (!album.has(run) || !gd || gd.__nonlinRun === run) return;
    if (preview) preview.el.remove();
    const el = album.get(run).cloneNode(true);
    preview = {run, el, from: gd, fromRun: gd.__nonlinRun, since: performance.now(), page: location.pathname};
    place(el, [box], 4);
  }, true);
  const place = (stand, boxes, z = 3) => {
    const pending = boxes.find((b) => b.offsetParent !== null);     // the next chart's element, not drawn yet
    if (pending) {                                                 // over it: the page keeps its layout
      if (getComputedStyle(pending).position === 'static') pending.style.position = 'relative';
      Object.assign(stand.style, {position: 'absolute', top: '0', left: '0', width: '100%', zIndex: String(z),
                                  background: 'white'});
      pending.appendChild(stand);
      return;
    }
    Object.assign(stand.style, {position: '', top: '', left: '', zIndex: '', background: ''});
    const old = snap && snap.box;
    if (old && old.isConnected && old.parentNode) old.parentNode.insertBefore(stand, old);
    else if (snap && snap.parent.isConnected) {
      snap.parent.insertBefore(stand, snap.next && snap.next.parentNode === snap.parent ? snap.next : null);
    }
  };
  const loop = () => {
    const now = performance.now();
    const boxes = boundaries();
    const shown = shownIn(boxes);
    let copy = document.querySelector('.nonlin-bridge');
    if (preview) {                   // until the next boundary plot is drawn; where the bridge's copy would stand
      const gd = shown ? shown.querySelector('.js-plotly-plot') : null;
      // the server's answer drawn: another chart, or another run on the same chart (nonlin_ui.live_patch)
      if (preview.page !== location.pathname || now - preview.since > PREVIEW_MS ||
          (gd && (gd !== preview.from || gd.__nonlinRun !== preview.fromRun))) {
        preview.el.remove();
        preview = null;
      } else {
        if (!preview.el.isConnected || preview.el.offsetParent === null) place(preview.el, shown ? [shown] : boxes, 4);
        if (copy) copy.remove();
        copy = null;
      }
    }
    if (shown) {
      remember(shown);
      if (copy) copy.remove();
      if (shown !== shownBox || now - taken > REFRESH_MS) {
        snap = {box: shown, parent: shown.parentNode, next: shown.nextSibling, page: location.pathname, copy: take(shown)};
        shownBox = shown;
        taken = window.__nonlinBridge.taken = now;
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
      } else if (preview) {                            // the clicked run's look stands in
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
          .replace("REFRESH_MS", str(REFRESH_MS)).replace("PREVIEW_MS", str(PREVIEW_MS))
          .replace("ALBUM", str(ALBUM)).replace("CLICKED_RUN(", CLICKED_RUN + "("))


def install() -> None:
    """The script that keeps a replaced boundary on screen until its successor is drawn (once per page)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)


def next_runs(controls: dict[str, dict[str, str]]) -> None:
    """Which run each button of these controls would select: {widget key: {button label: config key}}."""
    st.html(f'<script class="{NEXT_MARK}">window.__nonlinNext = {json.dumps(controls)};</script>',
            unsafe_allow_javascript=True)
