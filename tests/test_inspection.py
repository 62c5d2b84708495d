"""Inspection helpers against invariants: a linear model's boundary is a straight line, dead units
never fire, layer outputs equal a hand-written forward pass."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nonlin_core import datasets, inspection
from nonlin_core.config import RunConfig
from nonlin_core.grid import grid_points
from nonlin_core.models import ACTIVATIONS
from nonlin_core.training import train


def _probs_from_logit(f, G=60):
    """(2, G, G) probabilities of sigmoid(f(x, y)) on [0, 1]^2, row i = y, column j = x."""
    xs = ys = np.linspace(0, 1, G)
    gx, gy = np.meshgrid(xs, ys)
    p = 1 / (1 + np.exp(-f(gx, gy)))
    return np.stack([1 - p, p]), xs, ys


def test_affine_logit_is_a_straight_line():
    probs, xs, ys = _probs_from_logit(lambda x, y: 7 * x - 3 * y - 2)
    shape = inspection.boundary_shape(probs, xs, ys)
    assert shape.kind == "line" and shape.deviation < 1e-6 and shape.n_points > 10


def test_circle_is_a_curve_and_constant_is_none():
    probs, xs, ys = _probs_from_logit(lambda x, y: 20 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 - 0.1))
    assert inspection.boundary_shape(probs, xs, ys).kind == "curve"
    flat, xs, ys = _probs_from_logit(lambda x, y: 5 + 0 * x)
    assert inspection.boundary_shape(flat, xs, ys).kind == "none"


def test_multiclass_softmax_of_affine_logits_has_straight_edges():
    G = 50
    gx, gy = np.meshgrid(np.linspace(-1, 1, G), np.linspace(-1, 1, G))
    logits = np.stack([2 * gx + gy, -gx + 3 * gy, -gx - 2 * gy + 0.5])
    probs = np.exp(logits) / np.exp(logits).sum(0)
    shape = inspection.boundary_shape(probs)
    assert shape.kind == "line"


SPIRAL = {"n_classes": 3, "loss": "ce", "optimizer": "adam", "lr": 0.01}


@pytest.mark.parametrize("dataset, kw", [("circles", {}), ("spiral", SPIRAL)])
def test_trained_linear_model_is_a_line_and_relu_bends(dataset, kw):
    for activation, expected in (("none", {"line"}), ("relu", {"curve"})):
        config = RunConfig(dataset=dataset, activation=activation, epochs=300, **kw)
        snap = train(config, grid=True)
        grid = grid_points(datasets.load(config))
        assert inspection.boundary_shape(snap.grid[0], grid.xs, grid.ys).kind in expected


def test_dead_units():
    post = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert inspection.dead_units(post).tolist() == [True, False, False]


def test_layer_report_matches_a_manual_forward_pass():
    config = RunConfig(hidden_layers=(6, 4), epochs=50)
    snap = train(config)
    reports, labels, names = inspection.layer_report(config, snap.state_dicts[0], n_shown=10)
    data = datasets.load(config)
    sd = {k: v.double().numpy() for k, v in snap.state_dicts[0].items()}
    a = data.X_test
    for i, r in enumerate(reports):
        z = a @ sd[f"{2 * i}.weight"].T + sd[f"{2 * i}.bias"]
        a = np.maximum(z, 0)
        np.testing.assert_allclose(r.pre, z[:10], atol=1e-5)
        np.testing.assert_allclose(r.post, a[:10], atol=1e-5)
        assert r.dead.tolist() == np.all(a <= 0, axis=0).tolist()
        assert r.dead_share == pytest.approx(np.all(a <= 0, axis=0).mean())
    assert [r.index for r in reports] == [1, 2] and labels.tolist() == data.y_test[:10].tolist()
    assert names == ("0", "1")


def test_activation_table_matches_the_registry():
    x = np.linspace(-3, 3, 61)
    table = inspection.activation_table(x)
    assert list(table) == list(ACTIVATIONS)
    np.testing.assert_allclose(table["relu"][0], np.maximum(x, 0))
    np.testing.assert_allclose(table["tanh"][1], 1 - np.tanh(x) ** 2, atol=1e-12)
    for name, (y, dy) in table.items():   # f' agrees with a central difference away from kinks
        fd = (ACTIVATIONS[name].fn(torch.tensor(x + 1e-6)) - ACTIVATIONS[name].fn(torch.tensor(x - 1e-6))) / 2e-6
        away = np.abs(x) > 0.05
        np.testing.assert_allclose(dy[away], fd.numpy()[away], atol=1e-4, err_msg=name)


def test_boundary_frame_is_in_data_units(heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    config = RunConfig(dataset="heart_failure", standardize=True)
    data = datasets.load(config)
    frame = inspection.boundary_frame(data, resolution=20)
    i, j = frame.pair
    np.testing.assert_allclose(frame.X_train[:, 0], data.unscale(data.X_train)[:, i])
    assert frame.axis_titles == (data.feature_names[i], data.feature_names[j])
    assert frame.xs.min() <= frame.X_train[:, 0].min() and frame.xs.max() >= frame.X_train[:, 0].max()
    assert "other 10 features are held at their training mean" in frame.note
    assert inspection.boundary_frame(datasets.load(RunConfig()), resolution=20).note == ""
