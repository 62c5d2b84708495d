"""A training run's live charts redrawn in place. Streamlit 1.67 gives a Plotly chart a new element id whenever its
figure changes (the id hashes the spec), and its frontend keys the chart by that id: every live redraw used to
remount the chart (a new plot div, a full Plotly.newPlot), the boundary left the screen between frames and each
redraw cost the browser a whole replot.

So a live chart is drawn as one fixed figure per view and session (its "skeleton": the first figure it showed,
layout.meta.live = a token), sent again unchanged on every redraw (the same spec: the same element, which Streamlit
sends as a reference to the browser's copy), and each redraw's own frame goes beside it as a small patch. A script,
once per page, applies the newest patch to the chart whose token it names:
- the boundary (draw): its lines as an animation frame without redraw, its field image, title and dimming by
  relayout, its epoch in layout.meta (a patch costs ~10 ms of the page's main thread on 2 busy cores; Plotly.update,
  whose restyle replots the whole figure, took ~50). The data alone, before a first run, is the same chart with its field
  hidden, so a Train click's first frame is a patch, not a new chart;
- any other chart (draw_figure: the Playground's curves, live or not, one chart for the page's life): the whole
  new figure, with Plotly.react.
- a paused or finished run's time-lapse (draw_timelapse): the whole figure with its frames, with Plotly.react, onto
  the boundary's own chart (the live chart keeps the time-lapse's height and plot area: playback.player_band). The
  chart as Streamlit drew it is kept by the script before its first patch: the next live frame (a Train click after
  a finished run) goes back to it and patches it. So the Playground's boundary is one chart for the page's life: a
  run's end, a Train click and a stored run's click mount no new chart (0.15-0.3 s each on 2 busy cores).
Streamlit redraws a chart from its own copy of the figure (the skeleton) when the window is resized: the applied
patch's number is in layout.meta.seq, and a chart without it gets the patch again on the next animation frame.
Each patch names the run it shows (`run`, kept on the chart as gd.__nonlinRun, for nonlin_ui.bridge).

A run the page has shown comes back in the click's own turn: the script keeps the newest ALBUM finished runs'
time-lapse patches (a paced replay's figure as the finished run's own: at its last frame, Play from the start), and a
click on a button that selects one of them (window.__nonlinNext: nonlin_ui.bridge.next_runs) draws it at once, the
real chart (slider and Play work), ~0.1 s after the click where the server's answer takes 0.5-1 s on 2 busy cores.
Until that answer (a patch of that run; the same figure, by its digest, is not drawn again) the chart's older patch
is not put back, and a Streamlit redraw from its own copy gets the clicked run again."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from nonlin_core import playback
from nonlin_core.config import RunConfig
from nonlin_core.inspection import BoundaryFrame

from .bridge import CLICKED_RUN

SKELETONS = "live_skeletons"     # session state: {token: the figure drawn for it}
KEEP = 8                         # skeletons kept per session (a boundary per data view, curves per run)
PATCH_MARK = "nonlin-live-patch"  # the patch's <script> class, for tests that read it back
SEQ = "live_patch_seq"           # session state: patches sent (the script applies each once)
SENT = "live_patch_sent"         # session state: {token: (the last patch sent, its number)}
ALBUM = 8                        # finished runs' time-lapses the page keeps, to draw again on a click at once
HOLD_MS = 5000                   # a run drawn from the album waits at most this long for the server's answer

SCRIPT = """<script>(() => {
  if (window.__nonlinLivePatch) return;
  window.__nonlinLivePatch = true;
  window.__nonlinLive = window.__nonlinLive || {};
  // a playing time-lapse stops: its queued frames dropped, plotly's loop ends on its next tick. Not by animating to
  // [null] (its Pause button): that emits plotly_animated at once, Streamlit keeps the figure as it is at that
  // moment and, a moment later, draws it again over the one drawn here
  const stop = (gd) => {
    const queue = gd._transitionData && gd._transitionData._frameQueue;
    if (queue) queue.length = 0;
  };
  const sized = (gd, layout) => Object.assign(layout, {width: gd.layout.width, height: gd.layout.height,
                                                       template: gd.layout.template});
  const boundary = (gd, p) => {
    if (gd.layout.sliders && gd.layout.sliders.length && gd.__nonlinBase) {   // a time-lapse here: back to live
      stop(gd);
      const b = structuredClone(gd.__nonlinBase);
      window.Plotly.react(gd, {data: b.data, layout: sized(gd, b.layout), frames: [], config: gd._context});
    }
    const line = gd.data.findIndex((t) => t.name === 'boundary line');
    const image = (gd.layout.images || []).findIndex((im) => im.name === 'boundary');
    if (line < 0 || image < 0) return;
    // the lines as an animation frame without redraw, the field and title by relayout (arraydraw, layoutstyle):
    // ~10 ms on 2 busy cores, where Plotly.update's restyle of the lines replotted the whole figure (~50 ms)
    window.Plotly.animate(gd, {data: [{x: p.x, y: p.y}], traces: [line]},
                          {frame: {duration: 0, redraw: false}, transition: {duration: 0}, mode: 'immediate'});
    const now = gd.layout.images[image], layout = {};
    if (p.source && now.source !== p.source) layout[`images[${image}].source`] = p.source;   // none: data alone
    if (now.opacity !== p.opacity) layout[`images[${image}].opacity`] = p.opacity;
    if (((gd.layout.title || {}).text || '') !== p.title) layout['title.text'] = p.title;
    if (Object.keys(layout).length) window.Plotly.relayout(gd, layout);
    // the shown epoch and the patch's number (a Streamlit redraw from its own copy drops them: see loop)
    gd.layout.meta = Object.assign({}, gd.layout.meta, {epoch: p.epoch, dim: p.dim, seq: p.seq});
  };
  // album: run key -> its finished time-lapse's patch (the newest ALBUM; Map order: oldest first), drawn again at
  // once when a button that selects that run is clicked
  const album = new Map();
  const whole = (gd, p) => {     // the new figure (a time-lapse: with its frames), diffed in: Streamlit's size kept
    stop(gd);
    const meta = Object.assign({}, p.figure.layout.meta, {live: p.token, seq: p.seq, digest: p.digest});
    // a time-lapse is drawn again from the album: its layout and data copied (scrubbing moves the slider in them)
    const data = p.digest ? structuredClone(p.figure.data) : p.figure.data;
    const layout = Object.assign(p.digest ? structuredClone(p.figure.layout) : Object.assign({}, p.figure.layout), {meta});
    window.Plotly.react(gd, {data, layout: sized(gd, layout), frames: p.figure.frames || [], config: gd._context});
    const own = p.figure.layout.meta || {};
    if (p.digest && own.run && (!own.autoplay || !album.has(own.run))) {   // a finished run (paused: no meta.run)
      album.delete(own.run);
      album.set(own.run, own.autoplay ? finished(p) : p);
      while (album.size > ALBUM) album.delete(album.keys().next().value);
    }
  };
  // a watchable pace's replay figure (it starts mid-run, its Play plays the rest over WATCH_SECONDS) as the finished
  // run's own: at its last frame, Play playing all of it at 1x
  const finished = (p) => {
    const f = structuredClone(p.figure), n = f.frames.length, last = f.frames[n - 1];
    const menu = (name) => f.layout.updatemenus.find((m) => m.name === name) || {buttons: []};  // playback._controls
    const [slider] = f.layout.sliders, [play] = menu('play').buttons;
    const speed = menu('speed').buttons.find((b) => b.label === '1×');
    slider.active = n - 1;
    last.traces.forEach((t, k) => Object.assign(f.data[t], last.data[k]));
    last.layout.images.forEach((im, i) => { f.layout.images[i].source = im.source; });
    if (speed && play) play.args = structuredClone(speed.args);
    f.layout.meta = Object.assign({}, f.layout.meta, {epoch: f.layout.meta.epochs[n - 1]});
    delete f.layout.meta.autoplay;
    return Object.assign({}, p, {figure: f, digest: p.digest + '/finished'});
  };
  // a click on a button whose run the album has (window.__nonlinNext, from nonlin_ui.bridge.next_runs: per widget,
  // button label -> run key) draws that run's time-lapse in the click's own turn, before the server hears of it
  // (its answer takes 0.5-1 s on 2 busy cores); until that answer (a patch of that run: the same figure, not drawn
  // again), or for HOLD_MS, the chart's older patches are not put back
  // window, capture: before Streamlit's own handler sends the change, and before nonlin_ui.bridge's (on document),
  // which then finds the run drawn and puts no picture of it over the chart
  window.addEventListener('click', (e) => {
    const p = album.get(CLICKED_RUN(e));
    const gd = p && Array.from(document.querySelectorAll('.js-plotly-plot')).find((g) => g.offsetParent !== null
      && g._fullLayout && g.layout && g.layout.meta && g.layout.meta.live === p.token);
    if (!gd || gd.__nonlinRun === p.run) return;
    gd.__nonlinHold = {run: p.run, until: performance.now() + HOLD_MS, p};
    gd.__nonlinRun = p.run;
    whole(gd, p);
  }, true);
  const loop = () => {
    if (window.Plotly) {
      // a patch not applied yet, or undone: Streamlit redraws a chart from its own copy (the skeleton) when the
      // window is resized; layout.meta.seq then is not the patch's, and the patch goes on again
      const due = Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd) => {
        const meta = gd.layout && gd.layout.meta;
        const p = meta && meta.live ? window.__nonlinLive[meta.live] : null;
        if (!p || !gd._fullLayout) return null;
        const hold = gd.__nonlinHold;       // a clicked run drawn from the album: the server's answer not here yet
        if (hold) {                         // (a Streamlit redraw from its copy, the older figure, drawn over: again)
          if (p.run !== hold.run && performance.now() < hold.until) return meta.digest !== hold.p.digest ? [gd, hold.p] : null;
          gd.__nonlinHold = null;
        }
        return gd.__nonlinSeq !== p.seq || meta.seq !== p.seq ? [gd, p] : null;
      }).filter((d) => d);
      // the boundaries first (~10 ms each); a whole figure (the curves: 50-130 ms) waits for a frame without
      // them, one a frame: the browser paints a new boundary only once this frame's callbacks are done
      const boundaries = due.filter(([, p]) => !p.figure);
      for (const [gd, p] of boundaries.length ? boundaries : due.slice(0, 1)) {
        // the chart as Streamlit drew it (the skeleton), kept before its first patch: a time-lapse drawn onto it
        // goes back to it when the next run trains
        if (!gd.__nonlinBase) {
          try { gd.__nonlinBase = structuredClone({data: gd.data, layout: gd.layout}); } catch (e) { gd.__nonlinBase = null; }
        }
        gd.__nonlinSeq = p.seq;
        gd.__nonlinRun = p.run;
        const meta = gd.layout.meta;
        if (p.digest && meta.digest === p.digest) meta.seq = p.seq;    // this very figure is on it (from the album)
        else (p.figure ? whole : boundary)(gd, p);
      }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})();</script>""".replace("ALBUM", str(ALBUM)).replace("HOLD_MS", str(HOLD_MS)).replace("CLICKED_RUN(", CLICKED_RUN + "(")


def token(config: RunConfig, frame: BoundaryFrame, *, key: str, large: bool, height: int, legend: bool) -> str:
    """What a skeleton depends on: the chart, the data and its view (points, axes), the size and the legend; not
    the model, so the next run on the same data patches the same chart."""
    from .resources import data_config
    return f"{key}|{data_config(config).key}|{frame.pair}|{frame.axis_titles}|{large}|{height}|{legend}"


def patch(frame: BoundaryFrame, probs: np.ndarray | None, *, epoch: int, title: str, dim: bool) -> dict:
    """The parts of a live boundary that change from frame to frame, as the page's script applies them; probs None:
    the data alone (no lines, the field hidden: its image stays as it was, transparent)."""
    if probs is None:
        return {"x": [], "y": [], "opacity": 0.0, "epoch": int(epoch), "dim": False, "title": title}
    lx, ly, source = playback.field_drawing(frame, playback.finite(probs))
    as_list = (lambda v: [None if not np.isfinite(x) else round(float(x), 4) for x in v])
    return {"x": as_list(lx), "y": as_list(ly), "source": source,
            "opacity": playback.DIM_OPACITY if dim else 1.0, "epoch": int(epoch), "dim": bool(dim), "title": title}


def _or_even(frame: BoundaryFrame, probs: np.ndarray | None) -> np.ndarray:
    """probs, or every class equally likely over the frame's grid (what the data alone is drawn over)."""
    if probs is not None:
        return probs
    C = len(frame.class_names)
    return np.full((C, len(frame.ys), len(frame.xs)), 1 / C, dtype=np.float32)


def skeleton(key: str, build) -> go.Figure:
    """The figure drawn for this token in this session: built (by build()) the first time, then the same object."""
    kept = st.session_state.setdefault(SKELETONS, {})
    fig = kept.get(key)
    if fig is None:
        fig = build()
        fig.layout.meta = {**(fig.layout.meta or {}), "live": key}
        kept[key] = fig
        while len(kept) > KEEP:
            kept.pop(next(iter(kept)))
    return fig


def _boundary_skeleton(frame: BoundaryFrame, config: RunConfig, probs: np.ndarray | None, *, name: str, epoch: int,
                       large: bool, title: str, height: int, legend: bool, dim: bool) -> go.Figure:
    def build() -> go.Figure:
        fig = playback.live_boundary(frame, _or_even(frame, probs), config=config, epoch=epoch, large=large,
                                     title=title, height=height, legend=legend, dim=dim, band=True)
        if probs is None:                                  # as its patch draws it: no lines, no field
            fig.update_traces(x=[], y=[], selector={"name": "boundary line"})
            fig.update_layout_images(opacity=0.0, selector={"name": "boundary"})
        return fig
    return skeleton(name, build)


def draw(frame: BoundaryFrame, config: RunConfig, probs: np.ndarray | None, *, epoch: int, key: str, large: bool,
         title: str, height: int, legend: bool, dim: bool, chart_config: dict, run: str | None = None) -> None:
    """A live boundary: the skeleton chart, and this frame as a patch beside it. probs None: the data alone, on the
    same chart, so a Train click's first frame is a patch, not a new chart (a new chart took 0.2-0.4 s more).
    run: the key of the run shown (the page's script ends a clicked run's stand-in when another run is drawn)."""
    name = token(config, frame, key=key, large=large, height=height, legend=legend)
    fig = _boundary_skeleton(frame, config, probs, name=name, epoch=epoch, large=large, title=title, height=height,
                             legend=legend, dim=dim)
    st.plotly_chart(fig, key=key, config=chart_config)
    body = {**patch(frame, probs, epoch=epoch, title=title, dim=dim), "run": run}
    _send(name, json.dumps(body, separators=(",", ":")))


def draw_timelapse(figure_json: str, frame: BoundaryFrame, config: RunConfig, *, key: str, large: bool, height: int,
                   legend: bool, chart_config: dict, run: str) -> None:
    """A paused or finished run's time-lapse (figure_json: boundary_timelapse's figure, with its frames, as JSON)
    drawn onto the live boundary's chart: a whole-figure patch on the same skeleton (the same height and plot
    area: playback.player_band), so the run's end, a Train click after it and a stored run's click bring no new
    chart (a mount and Plotly.newPlot of 0.15-0.3 s on 2 busy cores) and the boundary never leaves the screen."""
    name = token(config, frame, key=key, large=large, height=height, legend=legend)
    fig = _boundary_skeleton(frame, config, None, name=name, epoch=0, large=large, title="", height=height,
                             legend=legend, dim=False)
    st.plotly_chart(fig, key=key, config=chart_config)
    digest = hashlib.sha1(figure_json.encode()).hexdigest()[:16]     # the same figure: not drawn twice
    _send(name, '{"figure":' + figure_json + f',"run":{json.dumps(run)},"digest":"{digest}"}}')


def draw_figure(fig: go.Figure, *, key: str, view: str, chart_config: dict) -> None:
    """Any live chart (the curves): the skeleton chart, and this redraw's whole figure as a patch that the page's
    script diffs in (Plotly.react). view: what the chart's skeleton depends on besides its key (its layout)."""
    name = f"{key}|{view}"
    fig.layout.meta = {**(fig.layout.meta or {}), "live": name}
    st.plotly_chart(skeleton(name, lambda: fig), key=key, config=chart_config)
    _send(name, '{"figure":' + fig.to_json() + "}")


def _send(name: str, body: str) -> None:
    """This redraw's patch for the chart `name` (a JSON object; token and sequence number added). The same patch
    again keeps its number: the script does not apply it twice, and Streamlit sends an unchanged large element
    (a time-lapse: ~0.5 MB) as a reference to the browser's copy."""
    sent = st.session_state.setdefault(SENT, {})
    last = sent.get(name)
    if last is not None and last[0] == body:
        seq = last[1]
    else:
        seq = st.session_state[SEQ] = st.session_state.get(SEQ, 0) + 1
        sent[name] = (body, seq)
        while len(sent) > KEEP:
            sent.pop(next(iter(sent)))
    body = body[:-1] + f',"token":{json.dumps(name)},"seq":{seq}}}'
    st.html(f'<script class="{PATCH_MARK}">window.__nonlinLive = window.__nonlinLive || {{}}; '
            f'window.__nonlinLive[{json.dumps(name)}] = {body.replace("</", "<" + chr(92) + "/")};</script>',
            unsafe_allow_javascript=True)


def install() -> None:
    """The script that applies the patches (once per page, whatever the reruns)."""
    st.html(SCRIPT, unsafe_allow_javascript=True)
