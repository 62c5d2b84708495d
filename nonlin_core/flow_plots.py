"""Gradient flow as a figure (pure: arrays in, a plotly Figure out): each layer's weight-gradient norm over
the epochs on a log axis, and beside it the share of saturated and dead units per hidden layer."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .plots import _axis, _f32, _fast_figure, _layout, _thin, class_color, log_ticks

SATURATED_COLOR, DEAD_COLOR = class_color(1), class_color(4)


def layer_names(n_layers: int) -> list[str]:
    """The weights into each layer: '→ h1', '→ h2', ..., '→ out'."""
    return [f"→ h{i + 1}" for i in range(n_layers - 1)] + ["→ out"]


def layer_colors(n_layers: int) -> list[str]:
    """Light (near the input) to dark (the output), so depth reads as colour."""
    return sample_colorscale("Viridis", [0.85 - 0.85 * i / max(n_layers - 1, 1) for i in range(n_layers)])


def _note(text: str, x: float, large: bool, y: float = 0.5) -> dict:
    return {"text": text, "x": x, "y": y, "xref": "paper", "yref": "paper", "showarrow": False,
            "font": {"size": 14 if large else 11, "color": "#6b7280"}}


def gradient_flow(grad_norm: np.ndarray | None, *, epochs: int, saturated: np.ndarray | None = None,
                  dead: np.ndarray | None = None, large: bool = False, uirevision: str = "flow",
                  height: int = 380) -> go.Figure:
    """grad_norm (T, layers): one line per layer over epochs 1..T (log axis); under it, saturated and dead
    (hidden,) shares in [0, 1] as bars per hidden layer (a NaN saturated share: that activation does not
    saturate). Stacked, so it reads in a narrow column."""
    norms = np.zeros((0, 0)) if grad_norm is None else np.asarray(grad_norm, dtype=np.float64)
    n_layers = norms.shape[1] if norms.ndim == 2 else 0
    layout = _layout(large=large, height=height, uirevision=uirevision)
    entries = n_layers + 2
    layout["margin"]["t"] = (24 if large else 20) * (1 + -(-entries // 4))     # the legend wraps, 4 to a row
    layout["height"] += layout["margin"]["t"]
    layout["legend"].update(orientation="h", yref="container", yanchor="top", y=1.0, x=0)
    layout.update(annotations=[], barmode="group", meta={"epoch": int(norms.shape[0])})
    split = 0.36                                  # bars below, lines above
    ticks = log_ticks([norms]) if norms.size else [1e-3, 1e-2, 1e-1, 1.0]
    layout["xaxis"] = _axis(large, "epoch", domain=[0, 1], anchor="y", range=[1, max(epochs, 2)])
    layout["yaxis"] = _axis(large, "gradient norm", type="log", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks],
                            anchor="x", domain=[split + 0.2, 1])
    layout["xaxis2"] = _axis(large, domain=[0, 1], anchor="y2")
    layout["yaxis2"] = _axis(large, "units", range=[0, 1.05], tickformat=".0%", anchor="x2", domain=[0, split])
    data: list[dict] = []
    if norms.shape[0]:
        x, v = _thin(norms.T)
        for layer, (name, color) in enumerate(zip(layer_names(n_layers), layer_colors(n_layers))):
            data.append({"type": "scatter", "x": x, "y": _f32(v[layer]), "mode": "lines", "name": name,
                         "line": {"color": color, "width": 2}, "xaxis": "x", "yaxis": "y",
                         "hovertemplate": f"{name} · epoch %{{x}}: %{{y:.3g}}<extra></extra>"})
    else:
        layout["yaxis"].update(range=[np.log10(ticks[0]), np.log10(ticks[-1])])
        layout["annotations"].append(_note("gradient norms appear after the first epoch", 0.5, large, 0.8))
    hidden = [f"h{i + 1}" for i in range(0 if dead is None else len(dead))]
    if hidden:
        sat = np.asarray(saturated, dtype=np.float64) if saturated is not None else np.full(len(hidden), np.nan)
        if np.isfinite(sat).any():
            data.append({"type": "bar", "x": hidden, "y": np.nan_to_num(sat), "name": "saturated",
                         "marker": {"color": SATURATED_COLOR}, "xaxis": "x2", "yaxis": "y2",
                         "hovertemplate": "%{x}: %{y:.0%} of unit-samples saturated<extra></extra>"})
        data.append({"type": "bar", "x": hidden, "y": np.asarray(dead, dtype=np.float64), "name": "dead",
                     "marker": {"color": DEAD_COLOR}, "xaxis": "x2", "yaxis": "y2",
                     "hovertemplate": "%{x}: %{y:.0%} of units dead<extra></extra>"})
    else:
        layout["xaxis2"].update(visible=False)
        layout["yaxis2"].update(visible=False)
        text = "no hidden layer" if dead is not None else "saturated and dead units appear while training"
        layout["annotations"].append(_note(text, 0.5, large, split / 2))
    return _fast_figure(data, layout)
