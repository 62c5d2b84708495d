"""The gradient-flow figure: one line per layer with the recorded norms, bars with the shares, notes when empty."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nonlin_core import RunConfig
from nonlin_core.flow_plots import gradient_flow, layer_names
from nonlin_core.training import train


def valid(fig: go.Figure) -> go.Figure:
    go.Figure(fig.to_dict())                 # plotly's validation: raises on a bad attribute
    return fig


def test_a_trained_runs_norms_and_shares_are_what_is_drawn():
    config = RunConfig(dataset="moons", hidden_layers=(6, 4), activation="tanh", epochs=40, device="cpu")
    snap = train(config)
    fig = valid(gradient_flow(snap.grad_norm[0], epochs=config.epochs, saturated=snap.saturated[0],
                              dead=snap.dead[0]))
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines] == layer_names(3) == ["→ h1", "→ h2", "→ out"]
    for layer, trace in enumerate(lines):
        np.testing.assert_allclose(trace.y, snap.grad_norm[0][:, layer])
        assert list(trace.x) == list(range(1, config.epochs + 1))
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    np.testing.assert_allclose(bars["saturated"].y, snap.saturated[0])
    np.testing.assert_allclose(bars["dead"].y, snap.dead[0])
    assert list(bars["dead"].x) == ["h1", "h2"] and fig.layout.yaxis.type == "log"


def test_relu_has_no_saturated_bars_and_empty_inputs_say_why():
    fig = valid(gradient_flow(np.ones((3, 2)), epochs=10, saturated=np.array([np.nan]), dead=np.array([0.25])))
    assert [t.name for t in fig.data if t.type == "bar"] == ["dead"]
    empty = valid(gradient_flow(None, epochs=10))
    texts = " ".join(a.text for a in empty.layout.annotations)
    assert "after the first epoch" in texts and "appear while training" in texts and not empty.data
    linear = valid(gradient_flow(np.ones((5, 1)), epochs=10, saturated=np.zeros(0), dead=np.zeros(0)))
    assert "no hidden layer" in " ".join(a.text for a in linear.layout.annotations)


def test_long_runs_are_thinned():
    fig = gradient_flow(np.linspace(1, 2, 20000).reshape(-1, 1) * np.ones((1, 2)), epochs=20000)
    assert all(len(t.x) <= 1501 and t.x[-1] == 20000 for t in fig.data)
