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
Each patch names the run it shows (`run`, kept on the chart as gd.__nonlinRun, for nonlin_ui.bridge)."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from nonlin_core import playback
from nonlin_core.config import RunConfig
from nonlin_core.inspection import BoundaryFrame

SKELETONS = "live_skeletons"     # session state: {token: the figure drawn for it}
KEEP = 8                         # skeletons kept per session (a boundary per data view, curves per run)
PATCH_MARK = "nonlin-live-patch"  # the patch's <script> class, for tests that read it back
SEQ = "live_patch_seq"           # session state: patches sent (the script applies each once)
SENT = "live_patch_sent"         # session state: {token: (the last patch sent, its number)}

SCRIPT = """<script>(() => {
  if (window.__nonlinLivePatch) return;
  window.__nonlinLivePatch = true;
  window.__nonlinLive = window.__nonlinLive || {};
  const stop = (gd) => {         // a playing time-lapse stops (its queued frames would go on drawing)
    if (gd._transitionData && gd._transitionData._frames && gd._transitionData._frames.length) {
      window.Plotly.animate(gd, [null], {frame: {duration: 0, redraw: false}, transition: {duration: 0},
                                         mode: 'immediate'});
    }
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
  const whole = (gd, p) => {     // the new figure (a time-lapse: with its frames), diffed in: Streamlit's size kept
    stop(gd);
    const meta = Object.assign({}, p.figure.layout.meta, {live: p.token, seq: p.seq});
    window.Plotly.react(gd, {data: p.figure.data, layout: sized(gd, Object.assign({}, p.figure.layout, {meta})),
                             frames: p.figure.frames || [], config: gd._context});
  };
  const loop = () => {
    if (window.Plotly) {
      // a patch not applied yet, or undone: Streamlit redraws a chart from its own copy (the skeleton) when the
      // window is resized; layout.meta.seq then is not the patch's, and the patch goes on again
      const due = Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd) => {
        const meta = gd.layout && gd.layout.meta;
        const p = meta && meta.live ? window.__nonlinLive[meta.live] : null;
        return p && gd._fullLayout && (gd.__nonlinSeq !== p.seq || meta.seq !== p.seq) ? [gd, p] : null;
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
        (p.figure ? whole : boundary)(gd, p);
      }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})();</script>"""


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
    _send(name, '{"figure":' + figure_json + f',"run":{json.dumps(run)}}}')


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
