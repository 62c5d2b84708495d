"""The network diagram as a plotly Figure (pure: a NetworkView in, a Figure out). Each unit is a small PNG
thumbnail (a layout image) of its output over the plotted plane; edges are coloured by the weight's sign and
sized by |weight|; hover gives each weight and each unit's share of the data where it is active."""
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
ASPECT = 2.4                   # the diagram's width : height
WIDTH_BINS = 4                 # edges drawn in this many widths per sign (one line trace each)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """(..., ) values -> (..., 3) uint8: orange below 0, white at 0, blue above, scaled by the largest |value|."""
    v = np.asarray(values, dtype=np.float64)
    top = np.abs(v).max()
    t = v / top if top > 0 else np.zeros_like(v)
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


def png_data_uri(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8, row 0 at the bottom -> a PNG data URI (row 0 at the top, as images are stored)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[::-1])).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def thumbnail_rgb(view: NetworkView, layer: int, unit: int) -> np.ndarray:
    """The colours of one unit's thumbnail, (T, T, 3) uint8, row i = ys[i]."""
    values = view.thumbs[layer][unit]
    if layer == len(view.thumbs) - 1 and view.kind == "probability":
        return probability_rgb(values, view.widths[-1], unit)
    return diverging_rgb(values)


def unit_positions(view: NetworkView) -> tuple[list[float], list[np.ndarray], float]:
    """Column x per layer, unit y's per layer (top to bottom), and the half-height of the drawing in rows."""
    rows = max(MIN_ROWS, *(view.shown(layer) for layer in range(len(view.thumbs))))
    half = rows / 2 + 0.9
    gap = float(np.clip((ASPECT * 2 * half - 2 * THUMB) / max(len(view.thumbs) - 1, 1), 2.5, 8.0))
    xs = [gap * layer for layer in range(len(view.thumbs))]
    ys = [(view.shown(layer) - 1) / 2 - np.arange(view.shown(layer)) for layer in range(len(view.thumbs))]
    return xs, ys, half


def _edge_traces(view: NetworkView, xs: list[float], ys: list[np.ndarray]) -> list[dict]:
    """Edges in WIDTH_BINS widths per sign (a line trace each) and one trace of hover points at their middles."""
    top = max((float(np.abs(w).max()) for w in view.weights if w.size), default=0.0) or 1.0
    lines: dict[tuple[bool, int], tuple[list, list]] = {}
    mid_x, mid_y, text = [], [], []
    for layer, w in enumerate(view.weights):
        x0, x1 = xs[layer] + THUMB / 2, xs[layer + 1] - THUMB / 2
        for o, i in zip(*np.nonzero(w)):
            y0, y1 = ys[layer][i], ys[layer + 1][o]
            b = min(int(abs(w[o, i]) / top * WIDTH_BINS), WIDTH_BINS - 1)
            px, py = lines.setdefault((bool(w[o, i] >= 0), b), ([], []))
            px += [x0, x1, None]
            py += [y0, y1, None]
            mid_x.append((x0 + x1) / 2)
            mid_y.append((y0 + y1) / 2)
            text.append(f"{view.unit_names[layer][i]} → {view.names[layer + 1]} {view.unit_names[layer + 1][o]}"
                        f"<br>weight {w[o, i]:+.3f}")
    traces = []
    for (positive, b), (px, py) in sorted(lines.items()):
        r, g, bl = POSITIVE if positive else NEGATIVE
        traces.append({"type": "scatter", "mode": "lines", "x": px, "y": py, "hoverinfo": "skip", "showlegend": False,
                       "line": {"width": 0.6 + 1.6 * b, "color": f"rgba({r},{g},{bl},{0.25 + 0.2 * b:.2f})"},
                       "meta": {"sign": "+" if positive else "-", "bin": b}})
    traces.append({"type": "scatter", "mode": "markers", "x": mid_x, "y": mid_y, "hovertext": text,
                   "hoverinfo": "text", "marker": {"size": 6, "opacity": 0}, "showlegend": False,
                   "name": "weights"})
    return traces


def _unit_hover(view: NetworkView, layer: int, unit: int) -> str:
    values = view.thumbs[layer][unit]
    head = f"{view.names[layer]} · {view.unit_names[layer][unit]}"
    share = view.active[layer]
    active = "" if share is None else f"<br>active (z > 0) on {share[unit]:.0%} of the data"
    return f"{head}{active}<br>output over the plane: {values.min():.3g} … {values.max():.3g}"


def network_diagram(view: NetworkView, *, large: bool = False, height: int | None = None, title: str = "",
                    uirevision: str = "network") -> go.Figure:
    """Inputs -> hidden units -> outputs, each unit a thumbnail of its output over the plotted plane."""
    xs, ys, half = unit_positions(view)
    images, hx, hy, htext = [], [], [], []
    for layer in range(len(view.thumbs)):
        for unit, y in enumerate(ys[layer]):
            images.append({"source": png_data_uri(thumbnail_rgb(view, layer, unit)), "xref": "x", "yref": "y",
                           "x": xs[layer] - THUMB / 2, "y": y + THUMB / 2, "sizex": THUMB, "sizey": THUMB,
                           "sizing": "stretch", "layer": "above", "xanchor": "left", "yanchor": "top",
                           "name": f"{layer}:{unit}"})
            hx.append(xs[layer])
            hy.append(y)
            htext.append(_unit_hover(view, layer, unit))
    units = {"type": "scatter", "mode": "markers", "x": hx, "y": hy, "hovertext": htext, "hoverinfo": "text",
             "showlegend": False, "name": "units",
             "marker": {"symbol": "square", "size": 14, "color": "rgba(0,0,0,0)",
                        "line": {"width": 0}}}
    size = 15 if large else 11
    notes = []
    for layer, x in enumerate(xs):
        label = view.names[layer] + (f" ({view.widths[layer]})" if 0 < layer < len(xs) - 1 else "")
        notes.append({"x": x, "y": half - 0.25, "text": label, "showarrow": False, "yanchor": "bottom",
                      "font": {"size": size}})
        if view.widths[layer] > view.shown(layer):
            notes.append({"x": x, "y": ys[layer][-1] - THUMB / 2 - 0.15, "yanchor": "top", "showarrow": False,
                          "text": f"+{view.widths[layer] - view.shown(layer)} more", "font": {"size": size - 1}})
    if view.hidden_layers > len(xs) - 2:
        notes.append({"x": (xs[-2] + xs[-1]) / 2, "y": 0, "showarrow": False, "font": {"size": size - 1},
                      "text": f"+{view.hidden_layers - (len(xs) - 2)} more layers", "bgcolor": "white"})
    rows = 2 * half
    layout = _layout(large=large, height=height or int(np.clip(90 + 30 * rows, 300, 640)),
                     uirevision=uirevision, title=title)
    pad = THUMB
    layout.update(images=images, annotations=notes, hovermode="closest", plot_bgcolor="rgba(0,0,0,0)",
                  xaxis={"visible": False, "range": [xs[0] - pad, xs[-1] + pad], "fixedrange": True},
                  yaxis={"visible": False, "range": [-half, half + 0.6], "scaleanchor": "x", "scaleratio": 1,
                         "fixedrange": True},
                  meta={"figure": "network", "layers": len(xs)})
    return _fast_figure([*_edge_traces(view, xs, ys), units], layout)
