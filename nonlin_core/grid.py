"""Decision grid over two features: the other features held at their training mean."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .datasets import Dataset
from .losses import LOSSES


@dataclass(frozen=True)
class Grid:
    xs: np.ndarray         # (G,) values of raw input pair[0], the data's units
    ys: np.ndarray         # (G,) values of raw input pair[1]
    points: np.ndarray     # (G*G, d) model inputs of row i*G + j = raw (xs[j], ys[i]), other raw inputs at
    pair: tuple[int, int]  # their train mean, through the config's features and scaling (Dataset.encode)


def grid_points(data: Dataset, *, resolution: int = 60, margin: float = 0.1,
                pair: tuple[int, int] | None = None) -> Grid:
    """A resolution x resolution grid over two raw inputs covering train and test data plus a margin on each side."""
    i, j = pair or data.default_pair
    X = np.concatenate([data.raw_train, data.raw_test])
    axes = []
    for f in (i, j):
        lo, hi = X[:, f].min(), X[:, f].max()
        pad = margin * (hi - lo) if hi > lo else 1.0
        axes.append(np.linspace(lo - pad, hi + pad, resolution))
    gx, gy = np.meshgrid(*axes)                                     # (G, G) each, 'xy' indexing
    raw = np.tile(data.raw_train.mean(axis=0), (resolution * resolution, 1))
    raw[:, i], raw[:, j] = gx.ravel(), gy.ravel()
    return Grid(axes[0], axes[1], data.encode(raw), (i, j))


def decision_grid(model: torch.nn.Module, data: Dataset, *, loss: str, resolution: int = 60,
                  pair: tuple[int, int] | None = None) -> tuple[Grid, np.ndarray]:
    """Class probabilities (classes, G, G) of a trained model over the grid."""
    grid = grid_points(data, resolution=resolution, pair=pair)
    param = next(model.parameters())
    with torch.no_grad():
        logits = model(torch.as_tensor(grid.points, dtype=param.dtype, device=param.device))
    probs = LOSSES[loss].probs(logits, 1)
    return grid, probs.T.reshape(-1, resolution, resolution).cpu().float().numpy()
