"""What every unit of an MLP computes over the plotted input plane: the numbers behind the network diagram
(inputs -> hidden units -> outputs, each unit a thumbnail of its output over the plane). Numpy out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .datasets import Dataset
from .grid import grid_points
from .models import layer_outputs, load_mlp

MAX_UNITS = 16            # units drawn per layer; a wider layer shows its first MAX_UNITS and a note
MAX_HIDDEN_LAYERS = 8     # hidden layers drawn; deeper networks show their first ones and a note
THUMB_RESOLUTION = 24     # thumbnail grid: THUMB_RESOLUTION² points of the boundary's plane


@dataclass(frozen=True)
class NetworkView:
    """A network's units, layer by layer (inputs first, outputs last), as far as the diagram draws them."""
    names: list[str]                 # per layer: "inputs", "layer 1", ..., "outputs"
    widths: list[int]                # per layer: its full width
    unit_names: list[list[str]]      # per layer: the shown units' names (features, classes or "unit i")
    thumbs: list[np.ndarray]         # per layer: (shown, T, T) each unit's output over the plane, row i = ys[i]
    active: list[np.ndarray | None]  # per layer: (shown,) share of the data where z > 0 (None for inputs)
    weights: list[np.ndarray]        # per pair of drawn layers: (shown out, shown in) weights between them
    hidden_layers: int               # the network's hidden layers (more than drawn when deeper than the cap)
    kind: str                        # what the output thumbnails show: "probability" or "logit"

    def shown(self, layer: int) -> int:
        return self.thumbs[layer].shape[0]


def network_view(model: nn.Sequential, data: Dataset, *, resolution: int = THUMB_RESOLUTION,
                 probabilities: str | None = "sigmoid") -> NetworkView:
    """Each unit's output on a resolution² grid of the boundary's plane (the other features at their training
    mean) and its share of the data (train and test) with pre-activation z > 0; weights between drawn units.
    probabilities: how output thumbnails turn logits into probabilities ("sigmoid" for bce, "softmax" for ce,
    None: logits)."""
    grid = grid_points(data, resolution=resolution)
    param = next(model.parameters())
    as_t = lambda X: torch.as_tensor(X, dtype=param.dtype, device=param.device)
    X_data = as_t(np.concatenate([data.X_train, data.X_test]))
    with torch.no_grad():
        on_grid = layer_outputs(model, as_t(grid.points))
        on_data = layer_outputs(model, X_data)
        logits = model(as_t(grid.points))
        out_z = model(X_data)
    n_hidden = len(on_grid)
    drawn = min(n_hidden, MAX_HIDDEN_LAYERS)
    cut = lambda a: a[:, :MAX_UNITS].T.double().cpu().numpy().reshape(-1, resolution, resolution)
    outputs = {"sigmoid": torch.sigmoid, "softmax": lambda z: torch.softmax(z, 1)}.get(probabilities, lambda z: z)
    thumbs = [np.stack([grid.points[:, f].reshape(resolution, resolution) for f in range(data.n_features)][:MAX_UNITS])]
    thumbs += [cut(a) for _, a in on_grid[:drawn]] + [cut(outputs(logits))]
    active: list[np.ndarray | None] = [None]
    active += [(z[:, :MAX_UNITS] > 0).double().mean(0).cpu().numpy() for z, _ in on_data[:drawn]]
    active.append((out_z[:, :MAX_UNITS] > 0).double().mean(0).cpu().numpy())
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weights = [linears[i].weight[:MAX_UNITS, :MAX_UNITS].detach().double().cpu().numpy() for i in range(drawn)]
    last = linears[-1].weight[:MAX_UNITS, :MAX_UNITS].detach()
    weights.append(last.double().cpu().numpy() if drawn == n_hidden else np.zeros((last.shape[0], thumbs[-2].shape[0])))
    widths = [data.n_features] + [linears[i].out_features for i in range(drawn)] + [linears[-1].out_features]
    names = ["inputs"] + [f"layer {i + 1}" for i in range(drawn)] + ["outputs"]
    classes = list(data.class_names)
    out_names = ([f"P({classes[-1]})"] if probabilities == "sigmoid" and widths[-1] == 1 else
                 [f"P({c})" for c in classes] if probabilities == "softmax" and len(classes) == widths[-1] else
                 [f"output {i + 1}" for i in range(widths[-1])])
    unit_names = [list(data.feature_names[:MAX_UNITS])] + [[f"unit {u + 1}" for u in range(t.shape[0])]
                                                           for t in thumbs[1:-1]] + [out_names[:MAX_UNITS]]
    return NetworkView(names, widths, unit_names, thumbs, active, weights, n_hidden,
                       "logit" if probabilities is None else "probability")


def output_kind(loss: str) -> str:
    """How a loss turns logits into probabilities: 'sigmoid' (bce) or 'softmax' (ce)."""
    return {"bce": "sigmoid", "ce": "softmax"}[loss]


def snapshot_model(config: RunConfig, data: Dataset, snap, k: int = 0) -> nn.Sequential | None:
    """Member k's model as a snapshot has it: its final weights once done, else the live parameters (None
    when the snapshot carries neither, or they are not finite)."""
    weights = snap.state_dicts[k] if snap.state_dicts else None
    if weights is None and snap.params is not None:
        weights = torch.as_tensor(snap.params[k])
    if weights is None:
        return None
    model = load_mlp(config, data.n_features, data.n_classes, weights)
    return model if all(bool(torch.isfinite(p).all()) for p in model.parameters()) else None
