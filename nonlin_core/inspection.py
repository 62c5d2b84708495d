"""What a trained run does inside: activation curves, per-layer outputs, dead units, and whether
its decision boundary is a straight line. Numpy in, numpy out; no plotting."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import datasets
from .config import RunConfig
from .grid import grid_points
from .models import ACTIVATIONS, activation_curve, layer_outputs, load_mlp

LINE_TOLERANCE = 0.004    # max distance of boundary points from their line, as a share of the plot's extent
NEARLY_TOLERANCE = 0.03


def activation_table(x: np.ndarray, names: list[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (f(x), f'(x)) for each registry activation, x (n,) -> two (n,) arrays."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    out = {}
    for name in names or list(ACTIVATIONS):
        y, dy = activation_curve(name, t)
        out[name] = (y.numpy(), dy.numpy())
    return out


@dataclass(frozen=True)
class LayerReport:
    """One hidden layer on the test set."""
    index: int                 # 1-based
    pre: np.ndarray            # (n_shown, width) before the activation
    post: np.ndarray           # (n_shown, width) after it
    dead: np.ndarray           # (width,) bool: output 0 for every test sample

    @property
    def dead_share(self) -> float:
        return float(self.dead.mean()) if self.dead.size else 0.0


def dead_units(post: np.ndarray) -> np.ndarray:
    """(n, width) post-activation outputs -> (width,) True where a unit outputs 0 for every sample."""
    return np.all(np.asarray(post) == 0, axis=0)


def layer_report(config: RunConfig, state_dict: dict, *, n_shown: int = 64,
                 data: datasets.Dataset | None = None) -> tuple[list[LayerReport], np.ndarray, tuple[str, ...]]:
    """Per hidden layer: outputs for the first n_shown test samples and dead units over the whole
    test set; also those samples' labels (n_shown,) and the class names."""
    data = data or datasets.load(config)
    model = load_mlp(config, data.n_features, data.n_classes, state_dict)
    param = next(model.parameters())
    X = torch.as_tensor(data.X_test, dtype=param.dtype)
    with torch.no_grad():
        layers = layer_outputs(model, X)
    reports = [LayerReport(i + 1, z[:n_shown].double().numpy(), a[:n_shown].double().numpy(),
                           dead_units(a.double().numpy())) for i, (z, a) in enumerate(layers)]
    return reports, data.y_test[:n_shown].copy(), data.class_names


@dataclass(frozen=True)
class BoundaryFrame:
    """What a boundary plot needs besides the probabilities, in the data's own units."""
    xs: np.ndarray             # (G,) grid axis of feature pair[0]
    ys: np.ndarray             # (G,)
    X_train: np.ndarray        # (n_train, 2) the pair's columns
    y_train: np.ndarray
    X_test: np.ndarray         # (n_test, 2)
    y_test: np.ndarray
    class_names: tuple[str, ...]
    axis_titles: tuple[str, str]
    n_features: int
    pair: tuple[int, int]

    @property
    def note(self) -> str:
        """One line for data with more than two features ('' otherwise)."""
        if self.n_features <= 2:
            return ""
        others = "the other feature is" if self.n_features == 3 else f"the other {self.n_features - 2} features are"
        return (f"The boundary is drawn over {self.axis_titles[0]} × {self.axis_titles[1]}; {others} held at "
                "their training mean.")


def boundary_frame(data: datasets.Dataset, *, resolution: int = 60) -> BoundaryFrame:
    """Grid axes (as decision_grid and training build them) and points over two raw inputs, in the data's units."""
    grid = grid_points(data, resolution=resolution)
    i, j = grid.pair
    names = data.raw_names
    return BoundaryFrame(grid.xs, grid.ys, data.raw_train[:, [i, j]], data.y_train.copy(), data.raw_test[:, [i, j]],
                         data.y_test.copy(), data.class_names, (names[i], names[j]), len(names), (i, j))


@dataclass(frozen=True)
class BoundaryShape:
    kind: str          # "line", "nearly", "curve" or "none" (one class everywhere in view)
    deviation: float   # largest distance of a boundary point from its best line, share of the extent
    n_points: int


def boundary_shape(probs: np.ndarray, xs: np.ndarray | None = None, ys: np.ndarray | None = None) -> BoundaryShape:
    """Is the decision boundary of a (classes, G, G) probability grid a straight line (one per pair of
    adjacent classes)? Crossings are found on the log-odds, which are exactly affine for a linear model."""
    probs = np.asarray(probs, dtype=np.float64)
    G = probs.shape[1]
    xs = np.linspace(0, 1, G) if xs is None else (np.asarray(xs) - xs[0]) / ((xs[-1] - xs[0]) or 1)
    ys = np.linspace(0, 1, G) if ys is None else (np.asarray(ys) - ys[0]) / ((ys[-1] - ys[0]) or 1)
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    label = probs.argmax(0)                                           # (G, G): row i = ys[i], column j = xs[j]
    points: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for di, dj in ((1, 0), (0, 1)):                                   # neighbours along y, then along x
        for i, j in zip(*np.nonzero(label[:G - di, :G - dj] != label[di:, dj:])):
            i2, j2 = i + di, j + dj
            c1, c2 = label[i, j], label[i2, j2]
            g1 = logp[c1, i, j] - logp[c2, i, j]                      # > 0: c1 wins here
            g2 = logp[c1, i2, j2] - logp[c2, i2, j2]                  # < 0: c2 wins there
            t = g1 / (g1 - g2) if g1 != g2 else 0.5
            points.setdefault((min(c1, c2), max(c1, c2)), []).append(
                (xs[j] + t * (xs[j2] - xs[j]), ys[i] + t * (ys[i2] - ys[i])))
    pairs = [np.array(p) for p in points.values() if len(p) >= 3]
    if not pairs:
        return BoundaryShape("none", 0.0, sum(len(p) for p in points.values()))
    deviation = max(_line_deviation(p) for p in pairs)
    kind = "line" if deviation <= LINE_TOLERANCE else "nearly" if deviation <= NEARLY_TOLERANCE else "curve"
    return BoundaryShape(kind, float(deviation), sum(len(p) for p in pairs))


def _line_deviation(p: np.ndarray) -> float:
    """Largest perpendicular distance of points (n, 2) from their total-least-squares line."""
    centred = p - p.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return float(np.abs(centred @ vt[-1]).max())
