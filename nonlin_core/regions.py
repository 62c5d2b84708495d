"""Linear regions of a piecewise-linear MLP over the plotted input plane.

Inside one activation pattern (which hidden units sit on which side of their kink) the network is one
affine function, so the number of distinct patterns met on a fine grid of the plotted plane is a LOWER
BOUND on its linear regions there: a region smaller than a grid cell is missed, and two disjoint regions
that share a pattern count once. Smooth activations have no linear regions (None)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .datasets import Dataset
from .grid import Grid, grid_points
from .models import ACTIVATIONS

REGION_RESOLUTION = 200          # the grid the count is taken on: 200 x 200 points of the plotted plane
KINKS: dict[str, tuple[float, ...]] = {   # piecewise-linear activations -> where their slope changes
    "none": (),
    "relu": (0.0,),
    "leaky_relu": (0.0,),
}


@dataclass(frozen=True)
class RegionMap:
    grid: Grid
    ids: np.ndarray            # (G, G) int: region (activation pattern) of each grid point, row i = ys[i]
    count: int                 # distinct patterns seen: a lower bound on the linear regions in view


def piecewise_linear(activation: str) -> bool:
    """True when the activation is piecewise linear (its network has linear regions)."""
    return activation in KINKS


def activation_patterns(model: nn.Sequential, activation: str, points: np.ndarray) -> np.ndarray:
    """(n, d) inputs -> (n, hidden units) int8: the piece of its activation each unit is on."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    X = torch.as_tensor(points, dtype=linears[0].weight.dtype, device=linears[0].weight.device)
    return layer_patterns([(m.weight, m.bias) for m in linears[:-1]], activation, X)


def layer_patterns(hidden: Sequence[tuple[Tensor, Tensor]], activation: str, X: Tensor) -> np.ndarray:
    """Hidden layers as (weight (out, in), bias (out,)), inputs X (n, d) -> (n, hidden units) int8 pieces
    (a transposed view). Computed features-first, W X^T + b: ~4x faster than nn.Linear's (n, out) GEMM on a
    200 x 200 grid, and the one computation the module and the engine's members both count with."""
    kinks, fn, pieces = KINKS[activation], ACTIVATIONS[activation].fn, []
    with torch.no_grad():
        X = X.T                                                        # (d, n)
        for W, b in hidden if kinks else ():
            Z = torch.addmm(b.unsqueeze(1), W, X)                      # (out, n)
            pieces.append(_piece(Z, kinks))
            X = fn(Z)
    if not pieces:
        return np.zeros((X.shape[1], 0), dtype=np.int8)
    return torch.cat(pieces, 0).cpu().numpy().T


def _piece(z: Tensor, kinks: tuple[float, ...]) -> Tensor:
    """The number of kinks below each z, int8 (torch.bucketize's answer, 10x faster for one kink)."""
    piece = (z > kinks[0]).view(torch.int8)      # bool -> int8 as a view: 0 or 1, no conversion pass
    for kink in kinks[1:]:
        piece += z > kink
    return piece


def _pattern_rows(patterns: np.ndarray) -> np.ndarray:
    """(n, units) patterns -> (n,) one sortable value per row (one kink each: a bit per unit), ordered as
    the rows' bytes. Up to 64 units: the row's bytes as one integer (sorts ~2x faster than bytes), each byte
    an exact float GEMM over the units-first bits (layer_patterns' transposed view), 5x faster than packbits."""
    units = patterns.shape[1]
    if units <= 64:
        bits = torch.from_numpy(np.ascontiguousarray(patterns.T)).float().clamp_(max=1)        # (units, n)
        weights = torch.zeros((units + 7) // 8, units)
        unit = torch.arange(units)
        weights[unit // 8, unit] = 2.0 ** (7 - unit % 8)
        data = torch.mm(weights, bits).to(torch.int64)                                 # (bytes, n)
        rows = data[0] << 56
        for i in range(1, len(data)):
            rows |= data[i] << (56 - 8 * i)
        return rows.numpy().view(np.uint64)
    packed = np.ascontiguousarray(np.packbits(patterns.astype(bool), axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1]))).ravel()   # a row as one value: 7x faster


def count_patterns(patterns: np.ndarray) -> tuple[np.ndarray, int]:
    """(n, units) patterns -> ((n,) region id of each row, number of distinct rows)."""
    if patterns.shape[1] == 0:
        return np.zeros(len(patterns), dtype=np.int64), 1
    _, ids = np.unique(_pattern_rows(patterns), return_inverse=True)
    ids = ids.reshape(-1)
    return ids, int(ids.max()) + 1


def distinct_patterns(patterns: np.ndarray) -> int:
    """Number of distinct rows of (n, units) patterns (count_patterns' count, without the ids)."""
    return 1 if patterns.shape[1] == 0 else len(np.unique(_pattern_rows(patterns)))


def region_map(model: nn.Sequential, activation: str, data: Dataset, *,
               resolution: int = REGION_RESOLUTION) -> RegionMap | None:
    """Each grid point's activation pattern over the boundary's plane (other features at their training
    mean); None for a smooth activation."""
    if not piecewise_linear(activation):
        return None
    grid = grid_points(data, resolution=resolution)
    ids, count = count_patterns(activation_patterns(model, activation, grid.points))
    return RegionMap(grid, ids.reshape(resolution, resolution), count)


def linear_regions(model: nn.Sequential, activation: str, data: Dataset, *,
                   resolution: int = REGION_RESOLUTION) -> int | None:
    """Distinct activation patterns on a resolution² grid of the plotted plane (a lower bound on the
    linear regions there); None for a smooth activation."""
    if not piecewise_linear(activation):
        return None
    return distinct_patterns(activation_patterns(model, activation, grid_points(data, resolution=resolution).points))


def display_axes(regions: RegionMap, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The map's grid axes in the data's own units (as the boundary plot shows them)."""
    i, j = regions.grid.pair
    return regions.grid.xs * data.scale[i] + data.mean[i], regions.grid.ys * data.scale[j] + data.mean[j]


def count_regions(hidden: Sequence[tuple[Tensor, Tensor]], activation: str, points: Tensor) -> int | None:
    """linear_regions of a net given as its hidden layers' (weight, bias), over grid points (n, d) already
    made (the batched engine counts each member this way: no module built, one grid for all)."""
    if not piecewise_linear(activation):
        return None
    return distinct_patterns(layer_patterns(hidden, activation, points))
