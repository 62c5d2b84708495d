"""The linear-region map as a plotly Figure (pure): each grid point of the plotted plane coloured by its
activation pattern, the data on top."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .plots import _axis, _fast_figure, _layout, class_color
from .regions import RegionMap

# 12 pastel hues (ColorBrewer Set3): a region's colour is its id modulo 12, ids shuffled so that neighbours
# (numbered in pattern order, not in space) rarely share one
REGION_COLORS = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
                 "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")


def region_colors(ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """(G, G) region ids -> (G, G) int8 colour indices 0..11, from a fixed shuffle of the ids."""
    n = int(ids.max()) + 1 if ids.size else 1
    order = np.random.default_rng(seed).permutation(n)
    return (order[ids] % len(REGION_COLORS)).astype(np.int8)


def region_map_figure(regions: RegionMap, xs: np.ndarray, ys: np.ndarray, *, X: np.ndarray, y: np.ndarray,
                      class_names: tuple[str, ...] | list[str], axis_titles: tuple[str, str] = ("x1", "x2"),
                      equal_aspect: bool = True, large: bool = False, height: int = 420, title: str = "",
                      uirevision: str = "regions") -> go.Figure:
    """Regions (G, G) over axes xs, ys (display units), the points X (n, 2) coloured by class y on top."""
    k = len(REGION_COLORS)
    scale = [[edge / k, c] for i, c in enumerate(REGION_COLORS) for edge in (i, i + 1)]   # one step per colour
    data: list[dict] = [{"type": "heatmap", "x": xs, "y": ys, "z": region_colors(regions.ids), "zmin": -0.5,
                         "zmax": k - 0.5, "colorscale": scale, "showscale": False,
                         "hoverinfo": "skip", "name": "regions"}]
    X, y = np.asarray(X), np.asarray(y)
    for c, name in enumerate(class_names):
        pts = X[y == c]
        data.append({"type": "scatter", "mode": "markers", "x": pts[:, 0], "y": pts[:, 1], "name": str(name),
                     "hoverinfo": "skip", "showlegend": False,
                     "marker": {"color": class_color(c), "size": 4, "line": {"color": "white", "width": 0.5}}})
    xaxis = _axis(large, axis_titles[0], showgrid=False, zeroline=False, range=[float(xs[0]), float(xs[-1])])
    yaxis = _axis(large, axis_titles[1], showgrid=False, zeroline=False, range=[float(ys[0]), float(ys[-1])])
    if equal_aspect:
        xaxis["constrain"] = "domain"
        yaxis.update(scaleanchor="x", scaleratio=1, constrain="domain")
    layout = _layout(large=large, height=height, uirevision=uirevision, title=title)
    layout.update(xaxis=xaxis, yaxis=yaxis, meta={"figure": "regions", "count": regions.count})
    return _fast_figure(data, layout)
