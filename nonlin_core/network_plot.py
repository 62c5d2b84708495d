"""The network diagram as a plotly Figure (pure: a NetworkView in, a Figure out). Each unit is a thumbnail of
its output over the plotted plane (one PNG layout image per layer holds its units); edges are coloured by the
weight's sign and sized by |weight|; hover gives each weight and each unit's share of the data where it is
active."""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from .network import NetworkView
from .plots import CLASS_COLORS, _fast_figure, _layout

POSITIVE, NEGATIVE = (8, 119, 189), (245, 147, 34)     # blue +, orange − (units and edges alike)
THUMB = 0.8                    # a unit's side, in rows (units are one row apart)
MIN_ROWS = 6                   # a short network is drawn as if its tallest layer had this many units
PLOT_WIDTH = 880               # px the diagram is laid out for (a wider container centres it)
WIDTH_BINS = 4                 # edges drawn in this many widths per sign (one line trace each)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


def diverging_rgb(values: np.ndarray, axis: tuple[int, ...] | None = None) -> np.ndarray:
    """(...) values -> (..., 3) uint8: orange below 0, white at 0, blue above, scaled by the largest |value|
    (over `axis`, e.g. each unit's own grid; None: all)."""
    v = np.asarray(values, dtype=np.float64)
    top = np.abs(v).max(axis=axis, keepdims=axis is not None)
    t = np.divide(v, top, out=np.zeros_like(v), where=top > 0)
    color = np.where(t[..., None] >= 0, np.array(POSITIVE), np.array(NEGATIVE))
    share = np.abs(t)[..., None]
    return np.round(255 - (255 - color) * share).astype(np.uint8)


def probability_rgb(p: np.ndarray, n_outputs: int, unit: int) -> np.ndarray:
    """Output thumbnails in the boundary's colours: one output, P(class 1) from class 0's colour to class 1's;
    several, P(class unit) from white to that class's colour."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0, 1)[..., None]
    if n_outputs == 1:
        low, high = np.array(_rgb(CLASS_COLORS[0])), np.array(_rgb(CLASS_COLORS[1]))
        t = np.abs(2 * p - 1)
        color = np.where(p >= 0.5, high, low)
        return np.round(255 - (255 - color) * t * 0.8).astype(np.uint8)
    color = np.array(_rgb(CLASS_COLORS[unit % len(CLASS_COLORS)]))
    return np.round(255 - (255 - color) * p * 0.8).astype(np.uint8)


def png_data_uri(image: np.ndarray) -> str:
    """(H, W, 3 or 4) uint8, row 0 at the top -> a PNG data URI."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def gap_pixels(resolution: int) -> int:
    """Transparent pixel rows between two units of a layer's strip (units are a row apart, THUMB tall)."""
    return round(resolution * (1 - THUMB) / THUMB)


def layer_strip(view: NetworkView, layer: int) -> np.ndarray:
    """(H, T, 4) RGBA uint8: the layer's thumbnails top to bottom (each flipped: image rows run downwards),
    transparent between them. One image per layer: a PNG per unit cost 4x the server time."""
    T = view.thumbs[layer].shape[1]
    step = T + gap_pixels(T)
    n = view.shown(layer)
    if layer == len(view.thumbs) - 1 and view.kind == "probability":
        rgb = np.stack([thumbnail_rgb(view, layer, unit) for unit in range(n)])
    else:
        rgb = diverging_rgb(view.thumbs[layer], axis=(1, 2))                # (n, T, T, 3), each unit its own scale
    tiles = np.zeros((n, step, T, 4), dtype=np.uint8)
    tiles[:, :T, :, :3] = rgb[:, ::-1]
    tiles[:, :T, :, 3] = 255
    return tiles.reshape(n * step, T, 4)[:n * step - (step - T)]


def strip_thumbnail(strip: np.ndarray, unit: int) -> np.ndarray:
    """Unit's (T, T, 3) thumbnail cut from a layer strip, row i = ys[i] again."""
    T = strip.shape[1]
    step = T + gap_pixels(T)
    return strip[unit * step:unit * step + T, :, :3][::-1]


def thumbnail_rgb(view: NetworkView, layer: int, unit: int) -> np.ndarray:
    """The colours of one unit's thumbnail, (T, T, 3) uint8, row i = ys[i]."""
    values = view.thumbs[layer][unit]
    if layer == len(view.thumbs) - 1 and view.kind == "probability":
        return probability_rgb(values, view.widths[-1], unit)
    return diverging_rgb(values)


def row_pixels(view: NetworkView) -> float:
    """Pixels per row: a short network gets larger thumbnails, 16 units still fit a screen."""
    rows = max(MIN_ROWS, *(view.shown(layer) for layer in range(len(view.thumbs))))
    return float(np.clip(560 / rows, 34, 64))


def unit_positions(view: NetworkView) -> tuple[list[float], list[np.ndarray], float]:
    """Column x per layer, unit y's per layer (top to bottom), and the half-height of the drawing in rows."""
    rows = max(MIN_ROWS, *(view.shown(layer) for layer in range(len(view.thumbs))))
    half = rows / 2 + 0.9
    span = PLOT_WIDTH / row_pixels(view) - 2 * THUMB
    gap = float(np.clip(span / max(len(view.thumbs) - 1, 1), 2.0, 7.0))
    xs = [gap * layer for layer in range(len(view.thumbs))]
    ys = [(view.shown(layer) - 1) / 2 - np.arange(view.shown(layer)) for layer in range(len(view.thumbs))]
    return xs, ys, half


def _edge_traces(view: NetworkView, xs: list[float], ys: list[np.ndarray], every_bin: bool = False) -> list[dict]:
    """Edges in WIDTH_BINS widths per sign (a line trace each) and one trace of hover points at their middles
    (customdata: weight, layer it enters, unit it leaves, unit it enters; numbers, so the payload stays small).
    every_bin: a trace for every width and sign, empty or not (animation frames replace them by position)."""
    top = max((float(np.abs(w).max()) for w in view.weights if w.size), default=0.0) or 1.0
    parts = []
    for layer, w in enumerate(view.weights):
        o, i = np.nonzero(w)
        n = len(o)
        parts.append(np.column_stack([np.full(n, xs[layer] + THUMB / 2), ys[layer][i], np.full(n, xs[layer + 1] - THUMB / 2),
                                      ys[layer + 1][o], w[o, i], np.full(n, layer + 1), i + 1, o + 1]))
    edges = np.concatenate(parts) if parts else np.zeros((0, 8))          # (E, 8)
    x0, y0, x1, y1, weight = edges[:, :5].T
    width_bin = np.minimum((np.abs(weight) / top * WIDTH_BINS).astype(int), WIDTH_BINS - 1)
    gap = np.full(len(edges), np.nan)                                     # NaN: a break between two edges
    traces = []
    for positive in (False, True):
        for b in range(WIDTH_BINS):
            pick = ((weight >= 0) == positive) & (width_bin == b) & (weight != 0)
            if not pick.any() and not every_bin:
                continue
            r, g, bl = POSITIVE if positive else NEGATIVE
            traces.append({"type": "scatter", "mode": "lines", "hoverinfo": "skip", "showlegend": False,
                           "x": np.column_stack([x0[pick], x1[pick], gap[pick]]).ravel().astype(np.float32),
                           "y": np.column_stack([y0[pick], y1[pick], gap[pick]]).ravel().astype(np.float32),
                           "line": {"width": 0.6 + 1.6 * b, "color": f"rgba({r},{g},{bl},{0.25 + 0.2 * b:.2f})"},
                           "meta": {"sign": "+" if positive else "-", "bin": b}})
    traces.append({"type": "scatter", "mode": "markers", "x": ((x0 + x1) / 2).astype(np.float32),
                   "y": ((y0 + y1) / 2).astype(np.float32), "customdata": edges[:, 4:].astype(np.float32),
                   "name": "weights", "showlegend": False,
                   "hovertemplate": "weight %{customdata[0]:+.3f}<br>unit %{customdata[2]} → unit %{customdata[3]} "
                                    "of layer %{customdata[1]}<extra></extra>",
                   "marker": {"size": 6, "opacity": 0}})
    return traces


def layer_images(view: NetworkView, xs: list[float], ys: list[np.ndarray], encode=None) -> list[dict]:
    """Layout images, one per layer: its thumbnail strip (a PNG, by `encode`: png_data_uri unless given) over its
    units' squares."""
    images, encode = [], encode or png_data_uri
    for layer in range(len(view.thumbs)):
        top = ys[layer][0] + THUMB / 2
        images.append({"source": encode(layer_strip(view, layer)), "xref": "x", "yref": "y",
                       "x": xs[layer] - THUMB / 2, "y": top, "sizex": THUMB, "sizey": top - (ys[layer][-1] - THUMB / 2),
                       "sizing": "stretch", "layer": "above", "xanchor": "left", "yanchor": "top",
                       "name": f"layer {layer}"})
    return images


def unit_hover(view: NetworkView, layer: int, unit: int) -> str:
    """A unit's hover text: its layer and name, active share (z > 0) and output range over the plane."""
    values = view.thumbs[layer][unit]
    head = f"{view.names[layer]} · {view.unit_names[layer][unit]}"
    share = view.active[layer]
    active = "" if share is None else f"<br>active (z > 0) on {share[unit]:.0%} of the data"
    return f"{head}{active}<br>output over the plane: {values.min():.3g} … {values.max():.3g}"


def network_diagram(view: NetworkView, *, large: bool = False, height: int | None = None, title: str = "",
                    uirevision: str = "network", every_bin: bool = False) -> go.Figure:
    """Inputs -> hidden units -> outputs, each unit a thumbnail of its output over the plotted plane
    (every_bin: all 2 x WIDTH_BINS edge traces, empty ones too, as animation frames need)."""
    xs, ys, half = unit_positions(view)
    images, hx, hy, htext, fx, fy = layer_images(view, xs, ys), [], [], [], [], []
    for layer in range(len(view.thumbs)):
        for unit, y in enumerate(ys[layer]):
            hx.append(xs[layer])
            hy.append(y)
            htext.append(unit_hover(view, layer, unit))
            x0, y0 = xs[layer] - THUMB / 2, y - THUMB / 2        # a white (all-zero) unit still shows its square
            fx += [x0, x0 + THUMB, x0 + THUMB, x0, x0, np.nan]
            fy += [y0, y0, y0 + THUMB, y0 + THUMB, y0, np.nan]
    frames = {"type": "scatter", "mode": "lines", "x": np.array(fx, np.float32), "y": np.array(fy, np.float32),
              "hoverinfo": "skip", "showlegend": False, "name": "frames", "line": {"color": "rgba(100,116,139,0.7)", "width": 1}}
    units = {"type": "scatter", "mode": "markers", "x": np.array(hx), "y": np.array(hy), "hovertext": np.array(htext),
             "hoverinfo": "text",
             "showlegend": False, "name": "units",
             "marker": {"symbol": "square", "size": 14, "color": "rgba(0,0,0,0)",
                        "line": {"width": 0}}}
    size = 15 if large else 11
    notes = []
    for layer, x in enumerate(xs):
        label = view.names[layer] + (f"<br>{view.widths[layer]} units" if 0 < layer < len(xs) - 1 else "")
        notes.append({"x": x, "y": half - 0.25, "text": label, "showarrow": False, "yanchor": "bottom",
                      "font": {"size": size}})
        if view.widths[layer] > view.shown(layer):
            notes.append({"x": x, "y": ys[layer][-1] - THUMB / 2 - 0.15, "yanchor": "top", "showarrow": False,
                          "text": f"+{view.widths[layer] - view.shown(layer)} more", "font": {"size": size - 1}})
    if view.hidden_layers > len(xs) - 2:
        notes.append({"x": (xs[-2] + xs[-1]) / 2, "y": 0, "showarrow": False, "font": {"size": size - 1},
                      "text": f"+{view.hidden_layers - (len(xs) - 2)} more layers", "bgcolor": "white"})
    layout = _layout(large=large, height=height or int((2 * half + 0.6) * row_pixels(view) + 50),
                     uirevision=uirevision, title=title)
    pad = THUMB
    layout.update(images=images, annotations=notes, hovermode="closest", plot_bgcolor="rgba(0,0,0,0)",
                  xaxis={"visible": False, "range": [xs[0] - pad, xs[-1] + pad], "fixedrange": True},
                  yaxis={"visible": False, "range": [-half, half + 0.6], "scaleanchor": "x", "scaleratio": 1,
                         "fixedrange": True},
                  meta={"figure": "network", "layers": len(xs)})
    return _fast_figure([*_edge_traces(view, xs, ys, every_bin), frames, units], layout)
