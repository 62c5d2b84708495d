"""A run's time-lapse as one Plotly figure that plays in the browser: the decision boundary of the shown frame,
plus layout.frames (one per recorded epoch), an epoch slider, Play/Pause and speeds 1/4x..4x.

A frame carries only what changes: the field as a small PNG (layout.images, quantised: binary, P(class 1) in
percent) and the boundary lines as one scatter (field_image). Frames play with redraw: false, so plotly
redraws neither the field nor the points (a heatmap frame redrew the whole figure: ~10 frames/s on 2 busy
cores); a script in the page (nonlin_ui/field_frames.py) swaps each frame's image. 120 frames of a 60x60
circles grid are sent once; then scrubbing and playing cost the server nothing.

Compare draws several models in step with `boundary_timelapse_members`: one figure, one panel per model,
one slider and one Play button driving all panels (separate charts could not share a slider)."""
from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go

from . import field_image, plots
from .config import RunConfig
from .inspection import BoundaryFrame
from .timelapse import Timelapse, quantise

WATCH_SECONDS = 8.0                         # a watchable pace shows a run's formation over at least this long
PLAY_FPS = 30.0                             # 1x plays this many frames a second (120 frames: 4 s)
SPEEDS = (("¼×", 0.25), ("½×", 0.5), ("1×", 1.0), ("2×", 2.0), ("4×", 4.0))
DIM_OPACITY = 0.35                          # a previous run, shown until the next one draws
DISPLAY_MS = 1000 / 60                      # a display frame (60 Hz; a 120 Hz display divides it evenly)
MIN_FRAME_MS = 15                           # faster than the display draws is no faster
MAX_POINTS = 400        # a heatmap frame redraws every point too: 1000 points played ~4 frames/s on 2 busy cores


def frame_ms(n_frames: int, speed: float = 1.0, seconds: float | None = None) -> int:
    """Milliseconds a frame stays on screen: PLAY_FPS * speed frames a second, or (seconds) so n_frames play in
    `seconds` / speed; at most the display's rate (2x and 4x both play every display frame at 60 Hz).

    Plotly shows the next frame on the first animation frame after `duration` ms, so a duration of exactly k
    display frames waits for a (k+1)-th whenever the clock reads k frames as no later: 1x at 24 frames a second
    (42 ms: between 2 and 3 display frames) played 17.6 frames/s in chromium. A duration just under a whole
    number of display frames shows each frame for exactly that many."""
    per_frame = 1 / PLAY_FPS if seconds is None else seconds / max(n_frames, 1)
    frames = max(1, round(1000 * per_frame / speed / DISPLAY_MS))
    return max(MIN_FRAME_MS, int(frames * DISPLAY_MS) - 3)


def paced_index(n_frames: int, elapsed: float, seconds: float = WATCH_SECONDS) -> int:
    """The frame a watchable pace shows `elapsed` s after the start: n_frames spread evenly over `seconds`
    (the schedule is dense early, so the formation gets most of them); the last one from then on."""
    if n_frames < 1:
        raise ValueError("a time-lapse has at least one frame")
    if seconds <= 0 or elapsed >= seconds:
        return n_frames - 1
    return min(n_frames - 1, max(0, int(n_frames * elapsed / seconds)))


def quantised_fields(probs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(classes, G, G) probabilities -> the heatmap's z and the boundary lines' z as small integers:
    binary, P(class 1) in percent (uint8) for both; multiclass, 1000 * (class + confidence) (uint16) and each
    class's margin over the best other in percent (int8), its border at 0."""
    probs = np.asarray(probs, dtype=np.float32)
    if probs.shape[0] == 2:
        z = np.round(probs[1] * 100).astype(np.uint8)
        return z, [z]
    C = probs.shape[0]
    best, sure = probs.argmax(0), probs.max(0)
    confidence = np.clip((sure - 1 / C) / (1 - 1 / C), 0, 1)
    heat = np.round(1000 * (best + 0.999 * confidence)).astype(np.uint16)
    margins = [np.round(100 * (probs[c] - np.delete(probs, c, axis=0).max(0))).astype(np.int8) for c in range(C)]
    return heat, margins


def with_latest(timelapse: Timelapse, grid: np.ndarray | None, epoch: int) -> Timelapse:
    """The time-lapse ending at `epoch` with the grid (K, classes, G, G) there (a paused run's boundary is
    rarely on the frame schedule); unchanged when that frame is recorded already or there is no grid."""
    if grid is None or (timelapse.epochs and timelapse.epochs[-1] >= epoch) or grid.shape[-1] != timelapse.resolution:
        return timelapse
    frame = quantise(grid[:, 1:] if timelapse.frames.shape[2] == 1 else grid)[:, None]
    return Timelapse([*timelapse.epochs, int(epoch)], np.concatenate([timelapse.frames, frame], axis=1))


def thinned(frame: BoundaryFrame, max_points: int = MAX_POINTS) -> BoundaryFrame:
    """Every k-th train and test point, so at most max_points are drawn (each animation frame redraws them)."""
    k = -(-(len(frame.y_train) + len(frame.y_test)) // max_points)
    if k <= 1:
        return frame
    return dataclasses.replace(frame, X_train=frame.X_train[::k], y_train=frame.y_train[::k],
                               X_test=frame.X_test[::k], y_test=frame.y_test[::k])


def metrics_text(epoch: int, history: dict[str, np.ndarray] | None, k: int = 0) -> str:
    """' · test acc 96.0% · test loss 0.112': member k's test metrics after `epoch` epochs ('' when unknown)."""
    if history is None or epoch < 1 or history["test_acc"].shape[-1] < epoch:
        return ""
    acc, loss = float(history["test_acc"][k, epoch - 1]), float(history["test_loss"][k, epoch - 1])
    return (f" · test acc {acc:.1%}" if np.isfinite(acc) else "") + (f" · test loss {loss:.3g}" if np.isfinite(loss)
                                                                      else "")


def epoch_label(epoch: int, history: dict[str, np.ndarray] | None, k: int) -> str:
    """'epoch 37 · test acc 96.0% · test loss 0.112' (the metrics after that epoch, when known)."""
    return f"epoch {epoch}" + metrics_text(epoch, history, k)


def _base(frame: BoundaryFrame, probs: np.ndarray, config: RunConfig, *, large: bool, title: str, height: int,
          legend: bool, epoch: int) -> go.Figure:
    return plots.decision_boundary(frame.xs, frame.ys, probs, X_train=frame.X_train, y_train=frame.y_train,
                                   X_test=frame.X_test, y_test=frame.y_test, class_names=frame.class_names,
                                   axis_titles=frame.axis_titles,
                                   equal_aspect=frame.n_features == 2 and config.dataset != "csv", epoch=epoch,
                                   large=large, title=title, height=height,
                                   uirevision=f"boundary-{config.dataset}-{frame.pair}", show_legend=legend)


def finite(probs) -> np.ndarray:
    """Probabilities as drawn: float32, a diverged member's NaN as 0.5 (as the time-lapse records it)."""
    return np.nan_to_num(np.asarray(probs, dtype=np.float32), nan=0.5)


def field_drawing(frame: BoundaryFrame, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """What a boundary frame draws over the plane (classes, G, G): its border lines' x and y (one scatter, NaN
    between pieces) and the field as a PNG data URL (quantised). Shared by the time-lapse's frames, the live
    chart and its in-place patches."""
    heat, lines = quantised_fields(probs)
    lx, ly = field_image.border_lines(frame.xs, frame.ys, lines, probs.shape[0])
    return lx, ly, field_image.field_source(heat, probs.shape[0])


def _draw_field(data: list[dict], layout: dict, probs: np.ndarray, frame: BoundaryFrame, *, dim: bool,
                axes: str = "") -> None:
    """Replace the base figure's heatmap and contour lines (data[0], then one per line) with the time-lapse's
    drawing: data[0] a point-less trace carrying the colour bar, data[1] the boundary lines as one scatter, and
    the field as a layout image (appended to layout['images'])."""
    lx, ly, source = field_drawing(frame, probs)
    C = probs.shape[0]
    old = data[0]
    bar = {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": "boundary", "showlegend": False,
           "hoverinfo": "skip", "marker": {"color": [0, 100], "cmin": 0, "cmax": 100, "colorscale": old["colorscale"],
                                           "showscale": bool(old.get("showscale")) and C == 2}}
    if C == 2:
        bar["marker"]["colorbar"] = {**old["colorbar"], "ticksuffix": "%"}
    line = {"type": "scatter", "x": lx, "y": ly, "mode": "lines", "name": "boundary line", "showlegend": False,
            "hoverinfo": "skip", "line": {"color": "#111827", "width": 2}, "connectgaps": False}
    data[:1 + (1 if C == 2 else C)] = [bar, line]           # the heatmap, its contour lines (one per class)
    image = field_image.field_image(frame.xs, frame.ys, source, opacity=DIM_OPACITY if dim else 1.0, axes=axes)
    layout["images"] = [*layout.get("images", []), image]


def player_band(layout: dict, *, large: bool) -> None:
    """Room under the plot for the time-lapse's slider and buttons: the margin and the height they add. The live
    chart has the same band (and the same plot area), so a finished run's time-lapse can be drawn onto it."""
    layout["margin"] = {**layout["margin"], "b": 186 if large else 164}
    layout["height"] = layout["height"] + layout["margin"]["b"] - 10


BAND_NOTE = "▶ Play and the epoch slider come here when the run ends"


def live_boundary(frame: BoundaryFrame, probs: np.ndarray, *, config: RunConfig, epoch: int, large: bool = False,
                  title: str = "", height: int = 460, legend: bool = True, dim: bool = False,
                  band: bool = False) -> go.Figure:
    """One boundary (classes, G, G) as a live chart draws it: the time-lapse's integer field and its thinned points.
    band: the same size and plot area as the time-lapse that follows it on the same chart, whose player's place
    holds a note."""
    frame = thinned(frame)
    probs = finite(probs)
    fig = _base(frame, probs, config, large=large, title=title, height=height, legend=legend, epoch=epoch)
    data = [dict(t.to_plotly_json()) for t in fig.data]
    layout = fig.layout.to_plotly_json()
    _draw_field(data, layout, probs, frame, dim=dim)
    if band:
        player_band(layout, large=large)
        layout["annotations"] = [*layout.get("annotations", []), {
            "text": BAND_NOTE, "name": "band note", "xref": "paper", "yref": "paper", "x": 0, "xanchor": "left",
            "y": 0, "yanchor": "top", "yshift": -72 if large else -62, "showarrow": False,
            "font": {"size": 15 if large else 12, "color": "#6b7280"}}]
    if dim:
        layout["meta"] = {**layout["meta"], "dim": True}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _frames(timelapse: Timelapse, panels: list[tuple[int, int]], frame: BoundaryFrame) -> list[dict]:
    """One frame per recorded epoch: each panel's boundary lines (panels: (member, index of its line trace))
    and, in layout.images in panel order, its field (shown by the page's script: plotly redraws no image)."""
    frames = []
    for i, epoch in enumerate(timelapse.epochs):
        probs = timelapse.probabilities(i)
        data, images = [], []
        for k, _ in panels:
            lx, ly, source = field_drawing(frame, probs[k])
            data.append({"type": "scatter", "x": lx, "y": ly})
            images.append({"source": source})
        frames.append({"name": str(epoch), "data": data, "traces": [line for _, line in panels],
                       "layout": {"images": images}})
    return frames


def _animate(names: list[str] | None, duration: int) -> dict:
    return {"method": "animate", "args": [names, {"frame": {"duration": duration, "redraw": False}, "mode": "immediate",
                                                  "fromcurrent": True, "transition": {"duration": 0}}]}


def _controls(timelapse: Timelapse, labels: list[str], shown: int, *, large: bool, play_from: int | None = None) -> dict:
    """Layout entries: the epoch slider and the Play / Pause / speed buttons (play_from: Play plays the frames
    from that one on; plotly's 'from the current frame' starts a figure just drawn at its first)."""
    n, size = len(timelapse.epochs), 16 if large else 12
    steps = [{**_animate([str(e)], 0), "label": label, "value": str(e)}
             for e, label in zip(timelapse.epochs, labels)]
    slider = {"active": shown, "steps": steps, "x": 0.0, "len": 1.0, "y": 0, "yanchor": "top", "pad": {"t": 58},
              "ticklen": 0, "minorticklen": 0, "tickcolor": "rgba(0,0,0,0)",   # 120 ticks and labels: hidden
              "font": {"color": "rgba(0,0,0,0)", "size": 1},
              "currentvalue": {"prefix": "", "visible": True, "xanchor": "left",
                               "font": {"size": size + 1, "color": "#111827"}}, "name": "epoch"}
    names = None if play_from is None else [str(e) for e in timelapse.epochs[play_from:]]
    # a paced run's Play (pressed by the page) finishes the watchable pace: the whole run in WATCH_SECONDS
    play = {**_animate(names, frame_ms(n, seconds=None if play_from is None else WATCH_SECONDS)), "label": "▶ Play"}
    pause = {"method": "animate", "label": "❚❚ Pause",
             "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                               "transition": {"duration": 0}}]}
    speeds = [{**_animate(None, frame_ms(n, speed)), "label": label} for label, speed in SPEEDS]
    menu = {"type": "buttons", "direction": "left", "showactive": False, "x": 0.0, "xanchor": "left", "y": 0,
            "yanchor": "top", "pad": {"t": 136 if large else 122, "r": 6}, "font": {"size": size}}   # under the slider
    return {"sliders": [slider],
            "updatemenus": [{**menu, "buttons": [play, pause], "name": "play"},
                            {**menu, "buttons": speeds, "x": 0.38, "name": "speed"}]}


def boundary_timelapse(frame: BoundaryFrame, timelapse: Timelapse, member: int = 0, *, config: RunConfig,
                       large: bool = False, title: str = "", height: int = 460, legend: bool = True,
                       dim: bool = False, index: int | None = None,
                       history: dict[str, np.ndarray] | None = None, autoplay: str | None = None,
                       run: str | None = None) -> go.Figure:
    """The boundary of member's frame `index` (default: the last) with every recorded frame as an animation
    frame, an epoch slider (label: the epoch, and its test metrics when `history` METRICS -> (K, T) is given),
    Play/Pause and speeds. dim: the heatmap faded (a previous run shown until the next one's first frame).
    autoplay: a key for the page's script that presses Play (layout.meta.autoplay); Play then plays from `index`.
    run: the run's key, as layout.meta.run (the page remembers a finished run's look by it)."""
    fig = boundary_timelapse_members(frame, timelapse, [member], [title], config=config, large=large,
                                     height=height, legend=legend, dim=dim, index=index, history=history,
                                     play_from=index if autoplay is not None else None)
    if autoplay is not None:
        fig.layout.meta = {**fig.layout.meta, "autoplay": autoplay}
    if run is not None:
        fig.layout.meta = {**fig.layout.meta, "run": run}
    return fig


def boundary_timelapse_members(frame: BoundaryFrame, timelapse: Timelapse, members: list[int], titles: list[str], *,
                               config: RunConfig, large: bool = False, height: int = 460, legend: bool = True,
                               dim: bool = False, index: int | None = None,
                               history: dict[str, np.ndarray] | None = None,
                               play_from: int | None = None) -> go.Figure:
    """Several members' boundaries side by side in one figure, played in step by one slider (its label: the
    first member's metrics). One member is boundary_timelapse: its panel keeps the figure's own title."""
    frame = thinned(frame)
    shown = len(timelapse.epochs) - 1 if index is None else index
    epoch = timelapse.epochs[shown]
    probs = timelapse.probabilities(shown)
    single = len(members) == 1
    data, panels, layout = [], [], None
    for p, k in enumerate(members):
        fig = _base(frame, probs[k], config, large=large, title=titles[0] if single else "", height=height,
                    legend=legend and single, epoch=epoch)
        traces = [dict(t.to_plotly_json()) for t in fig.data]
        if layout is None:
            layout = fig.layout.to_plotly_json()
        _draw_field(traces, layout, probs[k], frame, dim=dim, axes="" if p == 0 else str(p + 1))
        if not single:
            _place_panel(traces, layout, fig.layout.to_plotly_json(), p, len(members), titles[p], large=large)
        panels.append((k, len(data) + 1))
        data += traces
    labels = [epoch_label(e, history, members[0]) for e in timelapse.epochs]
    layout.update(_controls(timelapse, labels, shown, large=large, play_from=play_from))
    player_band(layout, large=large)
    layout["meta"] = {"epoch": int(epoch), "epochs": list(timelapse.epochs), "dim": bool(dim)}
    return go.Figure({"data": data, "layout": layout, "frames": _frames(timelapse, panels, frame)}, _validate=False)


def _place_panel(traces: list[dict], layout: dict, own: dict, p: int, n: int, title: str, *, large: bool) -> None:
    """Move panel p's traces and axes to subplot p + 1 of n side by side, titled above."""
    suffix = "" if p == 0 else str(p + 1)
    gap = 0.04
    domain = [p / n + (gap / 2 if p else 0), (p + 1) / n - (gap / 2 if p < n - 1 else 0)]
    for t in traces:
        t.update(xaxis="x" + suffix, yaxis="y" + suffix)
    xaxis, yaxis = dict(own["xaxis"]), dict(own["yaxis"])
    xaxis.update(domain=domain, anchor="y" + suffix)
    yaxis["anchor"] = "x" + suffix
    if "scaleanchor" in yaxis:
        yaxis["scaleanchor"] = "x" + suffix
    layout["xaxis" + suffix], layout["yaxis" + suffix] = xaxis, yaxis
    layout.setdefault("annotations", []).append(
        {"text": f"<b>{title}</b>", "x": (domain[0] + domain[1]) / 2, "y": 1.0, "xref": "paper", "yref": "paper",
         "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 15 if large else 12}})
