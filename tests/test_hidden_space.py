"""The hidden-space view: each layer's image of the data and of the plane's grid lines (PCA above width 2):
a linear network keeps lines straight, ReLU bends them; the Playground draws it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.hidden_space import hidden_spaces
from nonlin_core.models import build_mlp
from nonlin_core.space_plot import hidden_space_figure


@pytest.fixture(scope="module")
def moons():
    return datasets.load(RunConfig(dataset="moons", n_samples=200))


def straightness(line: np.ndarray) -> float:
    """Largest distance of a polyline's points (P, 2) from their best line, relative to its length."""
    centred = line - line.mean(0)
    _, s, _ = np.linalg.svd(centred, full_matrices=False)
    return float(s[1] / (s[0] or 1))


def test_a_linear_network_keeps_grid_lines_straight_and_relu_bends_them(moons):
    linear = hidden_spaces(build_mlp(2, (8, 8), 1, "none", seed=1), moons)
    relu = hidden_spaces(build_mlp(2, (8, 8), 1, "relu", seed=1), moons)
    assert [s.name for s in linear] == ["input", "layer 1", "layer 2"]
    for space in linear:
        assert max(straightness(line) for line in space.lines) < 1e-6
        assert space.explained == pytest.approx(1.0)          # a linear image of a plane is a plane: PCA keeps all
    assert max(straightness(line) for line in relu[2].lines) > 0.01
    assert relu[2].explained < 1.0


def test_a_two_wide_layer_is_drawn_as_it_is(moons):
    model = build_mlp(2, (2,), 1, "tanh", seed=3)
    spaces = hidden_spaces(model, moons)
    X = np.concatenate([moons.X_train, moons.X_test])
    with torch.no_grad():
        expected = torch.tanh(model[0](torch.as_tensor(X, dtype=torch.float32))).numpy()
    assert np.allclose(spaces[1].points, expected, atol=1e-6) and spaces[1].width == 2
    assert np.allclose(spaces[0].points, X)


def test_the_figure_has_a_panel_per_layer(moons):
    spaces = hidden_spaces(build_mlp(2, (8, 4, 3), 1, "relu", seed=0), moons)
    fig = hidden_space_figure(spaces, np.concatenate([moons.y_train, moons.y_test]), moons.class_names)
    go.Figure(fig.to_dict())
    assert fig.layout.meta["panels"] == 4
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "input" and titles[1].startswith("layer 1<br>PCA of 8:")


def test_the_playground_shows_the_hidden_space(app):
    from tests.test_pages import charts
    at = app(query={"hidden_layers": "6,3", "activation": "relu", "dataset": "moons"})
    at.segmented_control(key="pg_inside").set_value("Hidden space").run()
    assert not at.exception
    spec = charts(at)["hidden"]
    assert spec["layout"]["meta"]["panels"] == 3 and "network" not in charts(at)
