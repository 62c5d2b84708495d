"""The network diagram: the numbers behind it (a unit's thumbnail is its output over the grid, active shares)
and the figure built from a known tiny model (edge colours follow the weights' signs, widths |weight|, one
thumbnail image per unit, wide layers cut to 16 with a note); the Playground draws it, live and when done."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.grid import grid_points
from nonlin_core.models import build_mlp
from nonlin_core.network import MAX_UNITS, network_view, snapshot_model
from nonlin_core.network_plot import NEGATIVE, POSITIVE, layer_strip, network_diagram, strip_thumbnail, thumbnail_rgb


@pytest.fixture(scope="module")
def moons():
    return datasets.load(RunConfig(dataset="moons", n_samples=200))


def tiny(moons):
    """2 -> 2 (relu) -> 1 with hand-set weights: unit 1 is x1, unit 2 is -x2 + 0.5; output = unit 1 - unit 2."""
    model = build_mlp(2, (2,), 1, "relu", seed=0)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.5]))
        model[2].weight.copy_(torch.tensor([[2.0, -0.5]]))
        model[2].bias.zero_()
    return model


def decode(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGBA"))


def test_a_units_thumbnail_is_its_output_over_the_grid(moons):
    model = tiny(moons)
    view = network_view(model, moons, resolution=20)
    grid = grid_points(moons, resolution=20)
    x1, x2 = grid.points[:, 0].reshape(20, 20), grid.points[:, 1].reshape(20, 20)
    assert np.allclose(view.thumbs[0][0], x1) and np.allclose(view.thumbs[0][1], x2)      # inputs
    assert np.allclose(view.thumbs[1][0], np.maximum(x1, 0), atol=1e-6)
    assert np.allclose(view.thumbs[1][1], np.maximum(0.5 - x2, 0), atol=1e-6)
    logit = 2 * np.maximum(x1, 0) - 0.5 * np.maximum(0.5 - x2, 0)
    assert np.allclose(view.thumbs[2][0], 1 / (1 + np.exp(-logit)), atol=1e-6)
    X = np.concatenate([moons.X_train, moons.X_test])
    assert view.active[1][0] == pytest.approx(np.mean(X[:, 0] > 0))
    assert view.active[1][1] == pytest.approx(np.mean(0.5 - X[:, 1] > 0))
    assert [w.tolist() for w in view.weights] == [[[1.0, 0.0], [0.0, -1.0]], [[2.0, -0.5]]]


def test_the_figure_draws_each_unit_as_its_thumbnail(moons):
    view = network_view(tiny(moons), moons, resolution=20)
    fig = network_diagram(view)
    go.Figure(fig.to_dict())                                 # a valid figure (built unvalidated for speed)
    images = {im["name"]: im for im in fig.layout.images}
    assert set(images) == {"layer 0", "layer 1", "layer 2"}                # one image per layer
    for layer, n in ((0, 2), (1, 2), (2, 1)):
        strip = decode(images[f"layer {layer}"]["source"])
        assert (strip == layer_strip(view, layer)).all()
        for unit in range(n):
            assert (strip_thumbnail(strip, unit) == thumbnail_rgb(view, layer, unit)).all()
    unit1 = strip_thumbnail(decode(images["layer 1"]["source"]), 0)     # relu(x1): white where x1 < 0, blue where > 0
    x1 = view.thumbs[0][0]
    assert (unit1[x1 < 0] == 255).all()
    assert (unit1[x1 == x1.max()] == POSITIVE).all()


def test_edge_colours_follow_the_weight_signs_and_widths_their_size(moons):
    fig = network_diagram(network_view(tiny(moons), moons, resolution=8))
    lines = [t for t in fig.data if t.mode == "lines" and t.name != "frames"]
    by_sign = {"+": [], "-": []}
    for t in lines:
        rgb = tuple(int(c) for c in t.line.color[5:].split(",")[:3])
        assert rgb == (POSITIVE if t.meta["sign"] == "+" else NEGATIVE)
        by_sign[t.meta["sign"]].append((t.line.width, len(t.x) // 3))
    # weights +1 (x1 -> unit 1), +2 (unit 1 -> out); -1 (x2 -> unit 2), -0.5 (unit 2 -> out); zeros not drawn
    assert sum(n for _, n in by_sign["+"]) == 2 and sum(n for _, n in by_sign["-"]) == 2
    widest = max(lines, key=lambda t: t.line.width)
    assert widest.meta["sign"] == "+" and len(widest.x) == 3                 # the weight 2, alone
    hover = next(t for t in fig.data if t.name == "weights")
    assert "weight %{customdata[0]" in hover.hovertemplate
    assert sorted(map(tuple, np.asarray(hover.customdata).tolist())) == [      # weight, layer, from unit, to unit
        (-1.0, 1, 2, 2), (-0.5, 2, 2, 1), (1.0, 1, 1, 1), (2.0, 2, 1, 1)]
    units = next(t for t in fig.data if t.name == "units").hovertext
    assert any("active (z > 0) on" in h for h in units)


def test_wide_layers_show_sixteen_units_and_a_note(moons):
    view = network_view(build_mlp(2, (40, 8), 3, "tanh", seed=1), moons, probabilities="softmax")
    assert view.widths == [2, 40, 8, 3] and [view.shown(i) for i in range(4)] == [2, MAX_UNITS, 8, 3]
    assert view.weights[0].shape == (MAX_UNITS, 2) and view.weights[1].shape == (8, MAX_UNITS)
    fig = network_diagram(view)
    assert [decode(im.source).shape[0] for im in fig.layout.images] == [
        n * 24 + (n - 1) * 6 for n in (2, MAX_UNITS, 8, 3)]                 # 24-pixel thumbnails, 6 pixels apart
    assert any(a.text == f"+{40 - MAX_UNITS} more" for a in fig.layout.annotations)


def test_the_live_snapshot_carries_the_model_it_trains():
    config = RunConfig(dataset="moons", hidden_layers=(4,), activation="relu", epochs=30, n_samples=200)
    data = datasets.load(config)
    snaps = list(train_steps_with_grid(config))
    live, final = snaps[-2], snaps[-1]
    assert live.params is not None and live.params.shape == (1, sum(p.numel() for p in
                                                                    build_mlp(2, (4,), 1, "relu").parameters()))
    model = snapshot_model(config, data, final)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), final.state_dicts[0].values()))
    at_end = torch.nn.utils.parameters_to_vector(model.parameters()).detach().numpy()
    assert np.allclose(final.params[0], at_end)


def train_steps_with_grid(config):
    from nonlin_core.training import train_steps
    return train_steps(config, grid=True, snapshot_every=10)


def test_the_playground_draws_the_network_live_and_done(app):
    from tests.test_pages import charts, wait_for_end
    at = app(query={"hidden_layers": "4,3", "activation": "relu", "epochs": "400"})
    spec = charts(at)["network"]
    assert spec["layout"]["meta"]["figure"] == "network" and "untrained" in spec["layout"]["title"]["text"]
    assert len(spec["layout"]["images"]) == 4                                # inputs, two layers, output
    at.button(key="btn_pg_train").click().run()
    first = charts(at)["network"]
    text = wait_for_end(at)
    assert text.startswith("Done"), text
    done = charts(at)["network"]
    assert "at epoch 400" in done["layout"]["title"]["text"]
    assert json.dumps(done["layout"]["images"]) != json.dumps(spec["layout"]["images"])     # trained: it changed
    assert first["layout"]["images"]
