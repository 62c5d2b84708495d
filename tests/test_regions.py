"""Linear regions: the count of activation patterns over the plotted plane (1 for a linear network, more
with width for ReLU), the region map against the patterns it colours, and the CLI's final."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nonlin_core import datasets
from nonlin_core.cli import main
from nonlin_core.config import RunConfig
from nonlin_core.models import build_mlp
from nonlin_core.regions import activation_patterns, count_patterns, linear_regions, region_map
from nonlin_core.training import train


@pytest.fixture(scope="module")
def moons():
    return datasets.load(RunConfig(dataset="moons", n_samples=200))


def test_a_linear_network_has_one_region(moons):
    for hidden in ((), (8,), (16, 16, 16)):
        model = build_mlp(2, hidden, 1, "none", seed=1)
        assert linear_regions(model, "none", moons) == 1


def test_smooth_activations_have_no_count(moons):
    for name in ("tanh", "sigmoid", "gelu", "sin"):
        assert linear_regions(build_mlp(2, (8,), 1, name, seed=0), name, moons) is None
        assert region_map(build_mlp(2, (8,), 1, name, seed=0), name, moons) is None


def test_relu_regions_grow_with_width(moons):
    counts = [linear_regions(build_mlp(2, (w,), 1, "relu", seed=7), "relu", moons) for w in (1, 2, 4, 8, 16, 32)]
    assert counts == sorted(counts) and counts[0] <= 2 and counts[-1] > 3 * counts[2]
    # one hidden layer of w units cuts the plane with w lines: at most 1 + w + w(w-1)/2 regions
    assert all(c <= 1 + w + w * (w - 1) // 2 for c, w in zip(counts, (1, 2, 4, 8, 16, 32)))


def test_regions_grow_with_depth_for_leaky_relu(moons):
    shallow = linear_regions(build_mlp(2, (8,), 1, "leaky_relu", seed=3), "leaky_relu", moons)
    deep = linear_regions(build_mlp(2, (8, 8, 8), 1, "leaky_relu", seed=3), "leaky_relu", moons)
    assert deep > shallow > 1


def test_one_unit_splits_the_plane_along_its_line(moons):
    """A single ReLU unit w·x + b: two regions, the boundary between them the line w·x + b = 0."""
    model = build_mlp(2, (1,), 1, "relu", seed=0)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -1.0]]))
        model[0].bias.zero_()
    regions = region_map(model, "relu", moons, resolution=50)
    assert regions.count == 2
    on = regions.grid.points[:, 0] > regions.grid.points[:, 1]       # x > y: the unit is active
    ids = regions.ids.ravel()
    assert len(set(ids[on])) == 1 and len(set(ids[~on])) == 1 and set(ids[on]) != set(ids[~on])


def test_patterns_are_the_units_signs(moons):
    model = build_mlp(2, (5, 3), 1, "relu", seed=2)
    X = torch.as_tensor(moons.X_test[:20], dtype=torch.float32)
    z1 = model[0](X)
    z2 = model[2](model[1](z1))
    expected = torch.cat([z1 > 0, z2 > 0], 1).numpy()
    assert (activation_patterns(model, "relu", moons.X_test[:20]) == expected).all()


def test_count_patterns_numbers_distinct_rows():
    ids, n = count_patterns(np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1], [1, 1, 1]], dtype=np.int8))
    assert n == 3 and ids[0] == ids[2] and len({ids[0], ids[1], ids[3]}) == 3


def test_training_reports_regions_in_final():
    relu = train(RunConfig(dataset="moons", hidden_layers=(8,), activation="relu", epochs=20, n_samples=200))
    tanh = train(RunConfig(dataset="moons", hidden_layers=(8,), activation="tanh", epochs=20, n_samples=200))
    assert relu.final[0]["linear_regions"] > 1 and tanh.final[0]["linear_regions"] is None


def test_cli_json_final_carries_linear_regions(capsys):
    args = ["train", "--dataset", "circles", "--epochs", "30", "--n-samples", "200", "--json"]
    assert main(args + ["--hidden", "", "--activation", "none"]) == 0
    linear = json.loads(capsys.readouterr().out)
    assert main(args + ["--hidden", "16", "--activation", "relu"]) == 0
    relu = json.loads(capsys.readouterr().out)
    assert main(args + ["--hidden", "16", "--activation", "tanh"]) == 0
    tanh = json.loads(capsys.readouterr().out)
    assert linear["final"]["linear_regions"] == 1
    assert relu["final"]["linear_regions"] > 1
    assert "linear_regions" in tanh["final"] and tanh["final"]["linear_regions"] is None


def test_the_region_map_figure_colours_each_pattern(moons):
    import plotly.graph_objects as go

    from nonlin_core.region_plot import REGION_COLORS, region_colors, region_map_figure
    from nonlin_core.regions import display_axes

    model = build_mlp(2, (6,), 1, "relu", seed=4)
    regions = region_map(model, "relu", moons, resolution=40)
    colours = region_colors(regions.ids)
    for rid in range(regions.count):                       # one colour per region, the same at each of its points
        assert len(set(colours[regions.ids == rid].tolist())) == 1
    assert colours.min() >= 0 and colours.max() < len(REGION_COLORS)
    xs, ys = display_axes(regions, moons)
    fig = region_map_figure(regions, xs, ys, X=moons.X_train, y=moons.y_train, class_names=moons.class_names)
    go.Figure(fig.to_dict())
    assert fig.layout.meta["count"] == regions.count and (np.asarray(fig.data[0].z) == colours).all()


def test_the_playground_shows_the_region_map_and_a_smooth_activation_says_why(app):
    from tests.test_pages import charts, wait_for_end
    at = app(query={"hidden_layers": "8", "activation": "relu", "epochs": "200", "dataset": "moons"})
    at.segmented_control(key="pg_inside").set_value("Linear regions").run()
    assert "regions" in charts(at) and "network" not in charts(at)
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    handle = next(iter(at.session_state["handles"].values()))
    shown = charts(at)["regions"]["layout"]["meta"]["count"]
    assert shown == handle.snapshot.final[0]["linear_regions"] > 1          # the map counts what the run reports
    assert any(m.label.startswith("Linear regions") and m.value == f"{shown:,}" for m in at.metric)
    at.pills(key="pg_activation").set_value("tanh").run()
    assert any("is smooth" in i.value for i in at.info)
