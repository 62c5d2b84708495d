"""How each layer maps the data: the points and a grid of lines over the plotted plane, sent through the
network layer by layer and projected to 2-D (PCA, fitted on the data's outputs at that layer, when the layer
is wider than 2). Numpy out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .datasets import Dataset
from .grid import grid_points
from .models import layer_outputs

GRID_LINES = 11           # lines per direction over the plotted plane
LINE_POINTS = 60          # points along each line


@dataclass(frozen=True)
class LayerSpace:
    name: str                 # "input", "layer 1", ...
    width: int                # the layer's width
    points: np.ndarray        # (n, 2) the data (train and test) at this layer, projected
    lines: np.ndarray         # (L, P, 2) the grid lines at this layer, projected
    explained: float          # share of the variance the 2-D projection keeps (1.0 for width <= 2)


def project(values: np.ndarray, fit_on: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, float]:
    """PCA to 2-D fitted on fit_on (n, d); width 1 gets a zero second axis; returns (mean, axes, explained)."""
    mean = fit_on.mean(0)
    if fit_on.shape[1] <= 2:
        return mean, None, 1.0
    _, s, vt = np.linalg.svd(fit_on - mean, full_matrices=False)
    var = s ** 2
    return mean, vt[:2].T, float(var[:2].sum() / var.sum()) if var.sum() > 0 else 1.0


def _apply(values: np.ndarray, mean: np.ndarray, axes: np.ndarray | None) -> np.ndarray:
    if axes is not None:
        return (values - mean) @ axes
    return values if values.shape[1] == 2 else np.column_stack([values[:, 0], np.zeros(len(values))])


def grid_lines(data: Dataset, *, lines: int = GRID_LINES, points: int = LINE_POINTS) -> np.ndarray:
    """(2 * lines, points, d) inputs: lines of constant x1 and of constant x2 across the plotted plane (the
    other features at their training mean)."""
    g = grid_points(data, resolution=points)
    i, j = g.pair
    pick = np.linspace(0, points - 1, lines).round().astype(int)
    base = g.points[0]
    out = np.tile(base, (2 * lines, points, 1))
    for k, p in enumerate(pick):
        out[k, :, i], out[k, :, j] = g.xs[p], g.ys                 # x1 fixed, x2 runs
        out[lines + k, :, i], out[lines + k, :, j] = g.xs, g.ys[p]  # x2 fixed, x1 runs
    return out


def hidden_spaces(model: nn.Sequential, data: Dataset) -> list[LayerSpace]:
    """The input plane and each hidden layer's output (after the activation), data and grid lines."""
    X = np.concatenate([data.X_train, data.X_test])
    lines = grid_lines(data)
    L, P, d = lines.shape
    param = next(model.parameters())
    as_t = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)
    with torch.no_grad():
        on_data = [a.double().cpu().numpy() for _, a in layer_outputs(model, as_t(X))]
        on_lines = [a.double().cpu().numpy() for _, a in layer_outputs(model, as_t(lines.reshape(-1, d)))]
    i, j = grid_points(data, resolution=2).pair
    spaces = [LayerSpace("input", d, X[:, [i, j]], lines[:, :, [i, j]], 1.0)]
    for k, (a, b) in enumerate(zip(on_data, on_lines)):
        mean, axes, explained = project(a, a)
        spaces.append(LayerSpace(f"layer {k + 1}", a.shape[1], _apply(a, mean, axes),
                                 _apply(b, mean, axes).reshape(L, P, 2), explained))
    return spaces
