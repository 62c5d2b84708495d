"""The network diagram that plays with the boundary's time-lapse: the diagram of the model at every recorded
epoch as one Plotly animation frame, named as the boundary's frames are (the epoch), so the page's script shows
the boundary's epoch in the diagram too, in the browser, with no server message.

A frame carries what changes: each layer's thumbnail strip (a palette PNG data URI: layout.images' sources,
merged by position into the figure's; the inputs never change), the edge traces (one per sign and width, their
points joined into paths), the weights and unit numbers hover shows (float32 arrays, base64 in the
JSON) and the title. When all frames would pass FIGURE_BUDGET bytes, every k-th is kept (the first and last
always), and the diagram shows the kept frame at or before a scrubbed epoch."""
from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch
from PIL import Image

from .config import RunConfig
from .datasets import Dataset
from .models import load_mlp
from .network import NetworkView, network_view, output_kind
from .network_plot import _edge_traces, layer_images, network_diagram, unit_positions
from .timelapse import Timelapse

FIGURE_BUDGET = 400_000        # bytes of figure JSON the frames may take
FRAME_RESOLUTION = 16          # a frame's thumbnails: 16² points (the live diagram's 24² cost 2x the bytes)
MIN_FRAMES = 12               # frames kept however large the network (an 8x16 one: ~100 KB each)
LEVELS = 8                     # ... each unit's output in 2 * LEVELS + 1 shades (a palette PNG of few colours)


class TimelapseViews(Sequence):
    """network_view of a member's model at each recorded frame, each computed when first asked for: a figure
    over FIGURE_BUDGET keeps every k-th frame (network_timelapse), and the others are never computed (measured:
    41 of a 300-epoch run's 120 frames kept; the views were ~40% of building its figure)."""

    def __init__(self, config: RunConfig, data: Dataset, params: np.ndarray, resolution: int):
        self.config, self.data, self.params, self.resolution = config, data, params, resolution
        self.kind = output_kind(config.loss)
        self._views: dict[int, NetworkView] = {}

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]                     # a negative index counts from the end; IndexError past it
        if i not in self._views:
            model = load_mlp(self.config, self.data.n_features, self.data.n_classes, torch.as_tensor(self.params[i]))
            self._views[i] = network_view(model, self.data, resolution=self.resolution, probabilities=self.kind)
        return self._views[i]


def timelapse_views(config: RunConfig, data: Dataset, timelapse: Timelapse, member: int = 0, *,
                    resolution: int = FRAME_RESOLUTION) -> TimelapseViews:
    """network_view of member's model at every recorded frame (the time-lapse must carry params), as a sequence
    that computes each view when first read."""
    if timelapse.params is None:
        raise ValueError("this time-lapse has no recorded parameters")
    return TimelapseViews(config, data, timelapse.params[member], resolution)


def quantised(view: NetworkView) -> NetworkView:
    """The view with every thumbnail in 2 * LEVELS + 1 shades: a unit's output rounded to a multiple of its largest
    |output| / LEVELS (probability outputs to multiples of 1 / (2 * LEVELS)), as its frame draws it."""
    thumbs = []
    for layer, t in enumerate(view.thumbs):
        if layer == len(view.thumbs) - 1 and view.kind == "probability":
            thumbs.append(np.round(np.clip(t, 0, 1) * 2 * LEVELS) / (2 * LEVELS))
            continue
        top = np.abs(t).max(axis=(1, 2), keepdims=True)
        step = np.where(top > 0, top, 1) / LEVELS
        thumbs.append(np.round(t / step) * step)
    return dataclasses.replace(view, thumbs=thumbs)


def palette_png_uri(image: np.ndarray) -> str:
    """(H, W, 4) uint8 of at most 256 colours -> a palette PNG data URI (a byte a pixel before compression)."""
    packed, index = np.unique(np.ascontiguousarray(image).view(np.uint32).ravel(), return_inverse=True)
    if len(packed) > 256:
        raise ValueError("a palette PNG holds at most 256 colours")
    colors = packed.view(np.uint8).reshape(-1, 4)
    img = Image.fromarray(index.reshape(image.shape[:2]).astype(np.uint8), mode="P")
    img.putpalette(colors[:, :3].ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True, transparency=bytes(colors[:, 3].tolist()))
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def epoch_title(title: str, epoch: int) -> str:
    """'<b>Network at epoch 37</b>' (bold, as Streamlit's theme draws the first title)."""
    return f"<b>{title} at epoch {epoch}</b>"


def _unit_numbers(view: NetworkView) -> np.ndarray:
    """(units, 3) float32 per drawn unit, top to bottom, layer by layer: active share (NaN for inputs), min, max."""
    rows = []
    for layer, thumbs in enumerate(view.thumbs):
        share = view.active[layer]
        for unit in range(thumbs.shape[0]):
            rows.append((np.nan if share is None else share[unit], thumbs[unit].min(), thumbs[unit].max()))
    return np.array(rows, dtype=np.float32)


def _unit_templates(view: NetworkView) -> list[str]:
    """Each unit's hover, its numbers from customdata (so a frame sends numbers, not text)."""
    out = []
    for layer, thumbs in enumerate(view.thumbs):
        for unit in range(thumbs.shape[0]):
            head = f"{view.names[layer]} · {view.unit_names[layer][unit]}"
            active = "" if view.active[layer] is None else "<br>active (z > 0) on %{customdata[0]:.0%} of the data"
            out.append(head + active + "<br>output over the plane: %{customdata[1]:.3g} … %{customdata[2]:.3g}"
                       "<extra></extra>")
    return out


def chained(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (x0, x1, NaN, ...) joined into paths through their shared ends, NaN only between paths: the
    same picture in about half the points (a frame's edges are most of its bytes)."""
    seg = np.column_stack([x[0::3], y[0::3], x[1::3], y[1::3]])                  # (segments, 4)
    ends = [list(map(tuple, seg[:, :2].tolist())), list(map(tuple, seg[:, 2:].tolist()))]
    touching: dict[tuple, list[int]] = {}
    for s, (a, b) in enumerate(zip(*ends)):
        touching.setdefault(a, []).append(s)
        touching.setdefault(b, []).append(s)
    unused, points = set(range(len(seg))), []
    odd = [n for n, ss in touching.items() if len(ss) % 2]                       # paths start best at odd ends
    while unused:
        node = next((n for n in odd if any(s in unused for s in touching[n])), None)
        node = node if node is not None else ends[0][min(unused)]
        points.append(node)
        while (s := next((s for s in touching[node] if s in unused), None)) is not None:
            unused.discard(s)
            node = ends[1][s] if ends[0][s] == node else ends[0][s]
            points.append(node)
        points.append((np.nan, np.nan))
    xy = np.array(points[:-1] or [(np.nan, np.nan)][:0], dtype=np.float32).reshape(-1, 2)
    return xy[:, 0], xy[:, 1]


def _frame(view: NetworkView, epoch: int, title: str, n_edges: int, hovered: list[np.ndarray]) -> dict:
    """The animation frame of one epoch: edge traces, the hovered edges' weights (hovered: per layer, a mask of
    the edges the figure's hover points stand on) and the units' numbers; images, title."""
    xs, ys, _ = unit_positions(view)
    drawn = quantised(view)
    edges = _edge_traces(view, xs, ys, every_bin=True)
    data = [dict(zip(("x", "y"), chained(t["x"], t["y"])), type="scatter") for t in edges[:-1]]
    weights = np.concatenate([w[m] for w, m in zip(view.weights, hovered)]).astype(np.float32)
    data.append({"type": "scatter", "customdata": weights[:, None]})
    data.append({"type": "scatter", "customdata": _unit_numbers(view)})
    units = n_edges + 2                                 # edge traces, edge hover, unit squares, then the units
    return {"name": str(epoch), "data": data, "traces": [*range(n_edges + 1), units],
            "layout": {"images": [{}] + [{"source": i["source"]} for i in layer_images(drawn, xs, ys, palette_png_uri)[1:]],
                       "title": {"text": epoch_title(title, epoch)}}}


def frame_bytes(frame: dict) -> int:
    """Bytes of one animation frame in the figure's JSON."""
    empty = go.Figure()
    return len(pio.to_json(go.Figure({"frames": [frame]}, _validate=False), validate=False)) - len(pio.to_json(empty))


def kept_frames(n: int, step: int) -> list[int]:
    """Every step-th of n frames, the last always."""
    return sorted({*range(0, n, step), n - 1})


def network_timelapse(views: Sequence[NetworkView], epochs: list[int], *, index: int | None = None, large: bool = False,
                      title: str = "Network", uirevision: str = "network",
                      budget: int = FIGURE_BUDGET) -> go.Figure:
    """The diagram at views[index] (default: the last) with one animation frame per recorded epoch (named by the
    epoch; every k-th when all would pass `budget` bytes, at least MIN_FRAMES): layout.meta.epochs lists the
    frames' epochs, meta.timelapse marks the figure for the page's script."""
    if len(views) != len(epochs) or not views:
        raise ValueError("one view per recorded epoch")
    shown = len(views) - 1 if index is None else index
    fig = network_diagram(quantised(views[shown]), large=large, title=epoch_title(title, epochs[shown]), uirevision=uirevision,
                          every_bin=True)
    data = [dict(t.to_plotly_json()) for t in fig.data]
    n_edges = len(data) - 3
    data[-1].pop("hovertext", None)
    data[-1].update(hoverinfo=None, customdata=_unit_numbers(views[shown]), hovertemplate=_unit_templates(views[shown]))
    data[n_edges]["customdata"] = data[n_edges]["customdata"][:, :1]
    data[n_edges]["hovertemplate"] = _edge_templates(views[shown])
    hovered = [w != 0 for w in views[shown].weights]          # the edges _edge_traces gave hover points
    last = _frame(views[-1], epochs[-1], title, n_edges, hovered)       # the largest, as weights grow
    step = max(1, min(-(-int(1.1 * frame_bytes(last)) * len(views) // budget), (len(views) - 1) // (MIN_FRAMES - 1)))
    keep = kept_frames(len(views), step)
    frames = [_frame(views[i], epochs[i], title, n_edges, hovered) for i in keep[:-1]] + [last]
    layout = fig.layout.to_plotly_json()
    xs, ys, _ = unit_positions(views[shown])
    layout["images"] = layer_images(quantised(views[shown]), xs, ys, palette_png_uri)     # as frames draw them
    layout["meta"] = {**layout["meta"], "epochs": [int(epochs[i]) for i in keep], "epoch": int(epochs[shown]),
                      "timelapse": True}
    return go.Figure({"data": data, "layout": layout, "frames": frames}, _validate=False)


def _edge_templates(view: NetworkView) -> list[str]:
    """Each edge's hover (from unit, into unit and layer), its weight from customdata[0]."""
    out = []
    for layer, w in enumerate(view.weights):
        o, i = np.nonzero(w)
        out += [f"weight %{{customdata[0]:+.3f}}<br>unit {a + 1} → unit {b + 1} of layer {layer + 1}<extra></extra>"
                for a, b in zip(i, o)]
    return out


def played_params(snap, member: int = 0) -> Timelapse | None:
    """Member's recorded parameters as the diagram plays them, ending at the snapshot's epoch as the boundary's
    time-lapse does (playback.with_latest: a paused run is rarely on the schedule); None when not recorded or
    not finite (a diverged run: the diagram draws its current model, as while it trained)."""
    tl = snap.timelapse
    if tl is None or tl.params is None or not tl.epochs or not np.isfinite(tl.params[member]).all():
        return None
    own = tl.member(member)
    if tl.epochs[-1] >= snap.epoch:
        return own
    if snap.params is not None:
        latest = np.asarray(snap.params[member], dtype=np.float32)
    elif snap.state_dicts:
        latest = torch.cat([t.reshape(-1) for t in snap.state_dicts[member].values()]).float().numpy()
    else:
        return own
    return own.extended(Timelapse([int(snap.epoch)], own.frames[:, -1:], latest[None, None]))
