"""The hidden-space figure (pure): one panel per layer, the data coloured by class over the input plane's grid
lines as that layer maps them."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .hidden_space import LayerSpace
from .plots import _style, class_color

LINE_COLORS = ("rgba(71,85,105,0.45)", "rgba(147,51,234,0.35)")     # lines of constant x1, of constant x2
PANELS_PER_ROW = 5


def _polylines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, P, 2) -> x, y with a NaN between lines (one trace)."""
    gap = np.full((lines.shape[0], 1, 2), np.nan)
    flat = np.concatenate([lines, gap], 1).reshape(-1, 2)
    return flat[:, 0].astype(np.float32), flat[:, 1].astype(np.float32)


def hidden_space_figure(spaces: list[LayerSpace], y: np.ndarray, class_names: tuple[str, ...] | list[str], *,
                        large: bool = False, title: str = "", uirevision: str = "hidden") -> go.Figure:
    """A panel per layer: its grid lines and points (PCA to 2-D above width 2, the kept variance in the title)."""
    cols = min(len(spaces), PANELS_PER_ROW)
    rows = -(-len(spaces) // cols)
    titles = [s.name if s.width <= 2 else f"{s.name}<br>PCA of {s.width}: {s.explained:.0%} kept" for s in spaces]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.12 if rows > 1 else 0.05)
    y = np.asarray(y)
    half = len(spaces[0].lines) // 2
    for k, s in enumerate(spaces):
        r, c = k // cols + 1, k % cols + 1
        for part, color in zip((s.lines[:half], s.lines[half:]), LINE_COLORS):
            lx, ly = _polylines(part)
            fig.add_trace(go.Scatter(x=lx, y=ly, mode="lines", line={"color": color, "width": 1}, hoverinfo="skip",
                                     showlegend=False, name="grid"), row=r, col=c)
        for cls, name in enumerate(class_names):
            pts = s.points[y == cls]
            fig.add_trace(go.Scatter(x=pts[:, 0].astype(np.float32), y=pts[:, 1].astype(np.float32), mode="markers",
                                     marker={"color": class_color(cls), "size": 4}, name=str(name),
                                     showlegend=False, hoverinfo="skip"), row=r, col=c)   # the boundary's colours
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    _style(fig, large=large, height=60 + 250 * rows, uirevision=uirevision, title=title)
    fig.update_annotations(font_size=14 if large else 11)
    return fig.update_layout(meta={"figure": "hidden", "panels": len(spaces)}, plot_bgcolor="white",
                             margin={"t": 100 if title else 60})
