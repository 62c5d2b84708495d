"""The network diagram that plays with the time-lapse: one animation frame per recorded epoch, named by the epoch,
whose thumbnails are network_view of the model trained to that epoch (in the frame's shades); its edges draw the
same segments as the live diagram's; a long run's frames are thinned to the byte budget; a paused run's diagram
ends at its epoch as the boundary does."""
from __future__ import annotations

import dataclasses

import numpy as np
import plotly.io as pio
import pytest
import torch

from nonlin_core import RunConfig, datasets
from nonlin_core.control import RunControl
from nonlin_core.models import load_mlp
from nonlin_core.network import network_view, output_kind
from nonlin_core.network_playback import (
    FIGURE_BUDGET,
    LEVELS,
    MIN_FRAMES,
    chained,
    network_timelapse,
    played_params,
    quantised,
    timelapse_views,
)
from nonlin_core.network_plot import _edge_traces, layer_strip, unit_positions
from nonlin_core.timelapse import frame_epochs
from nonlin_core.training import Trainer, train
from tests.test_network import decode

CONFIG = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=30, hidden_layers=(5, 4), activation="tanh",
                   lr=0.1, device="cpu")


@pytest.fixture(scope="module")
def run():
    data = datasets.load(CONFIG)
    tl = train(CONFIG, timelapse=True, grid_resolution=8).timelapse
    return data, tl, timelapse_views(CONFIG, data, tl)


def test_one_frame_per_recorded_epoch_each_the_view_of_the_model_trained_to_it(run):
    data, tl, views = run
    made = network_timelapse(views, tl.epochs, budget=10**9)
    fig = made.to_plotly_json()
    assert tl.epochs == list(range(31))
    assert [f["name"] for f in fig["frames"]] == [str(e) for e in tl.epochs] and fig["layout"]["meta"]["epochs"] == tl.epochs
    for epoch in (0, 3, 17, 30):
        trained = train(CONFIG.replace(epochs=epoch)).state_dicts[0] if epoch else None
        model = load_mlp(CONFIG, data.n_features, data.n_classes, trained) if trained else \
            load_mlp(CONFIG, data.n_features, data.n_classes, torch.as_tensor(tl.params[0, 0]))
        view = network_view(model, data, resolution=views[0].thumbs[0].shape[-1],
                            probabilities=output_kind(CONFIG.loss))
        frame = fig["frames"][epoch]
        assert frame["layout"]["title"]["text"] == f"<b>Network at epoch {epoch}</b>"
        images = frame["layout"]["images"]
        assert images[0] == {}                                                # the inputs: unchanged
        for layer in range(1, len(view.thumbs)):
            assert np.array_equal(decode(images[layer]["source"]), layer_strip(quantised(view), layer)), (epoch, layer)
        shares = np.concatenate([a for a in view.active[1:]])
        numbers = np.asarray(made.frames[epoch].data[-1].customdata)                # hover: (active share, min, max)
        assert np.allclose(numbers[len(view.thumbs[0]):, 0], shares, atol=1e-6)


def test_quantised_thumbnails_are_within_half_a_shade():
    model = load_mlp(CONFIG, 2, 2, train(CONFIG.replace(epochs=5)).state_dicts[0])
    view = network_view(model, datasets.load(CONFIG), resolution=12)
    shaded = quantised(view)
    for layer, (t, q) in enumerate(zip(view.thumbs, shaded.thumbs)):
        top = 1 if layer == len(view.thumbs) - 1 else np.abs(t).max(axis=(1, 2), keepdims=True)
        step = top / (2 * LEVELS) if layer == len(view.thumbs) - 1 else top / LEVELS
        assert np.all(np.abs(t - q) <= step / 2 + 1e-12)
        assert len(np.unique(np.round(q / step))) <= 2 * LEVELS + 1


def test_the_frames_edges_draw_the_live_diagrams_segments(run):
    _, _, views = run
    view = views[-1]
    xs, ys, _ = unit_positions(view)
    for trace in _edge_traces(view, xs, ys, every_bin=True)[:-1]:
        x, y = trace["x"], trace["y"]
        cx, cy = chained(x, y)
        assert len(cx) <= len(x)
        wanted = {frozenset({(a, b), (c, d)}) for a, b, c, d in zip(x[0::3], y[0::3], x[1::3], y[1::3])}
        got = {frozenset({(cx[i], cy[i]), (cx[i + 1], cy[i + 1])}) for i in range(len(cx) - 1)
               if not (np.isnan(cx[i]) or np.isnan(cx[i + 1]))}
        assert got == wanted


def test_a_long_runs_frames_fit_the_budget_first_and_last_kept():
    config = CONFIG.replace(epochs=1000, hidden_layers=(10, 10), n_samples=200)
    data = datasets.load(config)
    tl = train(config, timelapse=True, grid_resolution=8).timelapse
    assert len(tl.epochs) == len(frame_epochs(1000)) == 120
    fig = network_timelapse(timelapse_views(config, data, tl), tl.epochs)
    size, kept = len(pio.to_json(fig, validate=False)), fig.layout.meta["epochs"]
    assert size <= FIGURE_BUDGET                                       # the whole figure: base and frames
    assert MIN_FRAMES <= len(kept) < 120 and kept[0] == 0 and kept[-1] == 1000
    assert [f.name for f in fig.frames] == [str(e) for e in kept] and set(kept) <= set(tl.epochs)
    steps = np.diff([tl.epochs.index(e) for e in kept])
    assert steps.max() <= 3                                            # every 3rd frame at most


def test_a_paused_runs_diagram_ends_at_its_epoch():
    config = CONFIG.replace(epochs=500)
    stop = next(e for e in range(150, 500) if e not in frame_epochs(500))
    control = RunControl()
    control.step(stop)
    paused = next(s for s in Trainer(config).steps(timelapse=True, grid=True, grid_resolution=8, control=control,
                                                   snapshot_seconds=1e9) if s.status != ["running"])
    assert paused.status == ["paused"] and paused.timelapse.epochs[-1] < stop
    played = played_params(paused)
    assert played.epochs == [*paused.timelapse.epochs, stop] and np.array_equal(played.params[0, -1], paused.params[0])
    control.cancel()
    done = dataclasses.replace(paused, timelapse=paused.timelapse.extended(played.since(len(played.epochs) - 1)))
    assert played_params(done).epochs == played.epochs                 # recorded there already: unchanged
    assert played_params(dataclasses.replace(paused, timelapse=dataclasses.replace(paused.timelapse,
                                                                                  params=None))) is None
    diverged = paused.timelapse.params.copy()
    diverged[0, -1, 0] = np.nan
    assert played_params(dataclasses.replace(paused, timelapse=dataclasses.replace(paused.timelapse,
                                                                                  params=diverged))) is None


def test_a_thinned_figure_computes_the_views_of_its_kept_frames_alone(run):
    data, tl, _ = run
    views = timelapse_views(CONFIG, data, tl)                   # fresh: none computed yet
    kept = network_timelapse(views, tl.epochs, budget=30_000).layout.meta["epochs"]
    assert 1 < len(kept) < len(tl.epochs)
    computed = [tl.epochs[i] for i in range(len(views)) if i in views._views]
    assert computed == kept                                      # the last (shown) among them
    assert views[-1] is views[len(views) - 1] and len(views[2:5]) == 3
