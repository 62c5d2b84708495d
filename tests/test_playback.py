"""The time-lapse figure: one animation frame per recorded epoch, each the recorded grid, played in the browser."""
from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from nonlin_core import RunConfig, datasets, field_image, inspection, playback, plots
from nonlin_core.snapshot import METRICS
from nonlin_core.timelapse import Timelapse, frame_epochs, quantise
from nonlin_core.training import Trainer
from tests.support.field import array, png_rgb


def valid(fig: go.Figure) -> go.Figure:
    return go.Figure(fig.to_dict())           # plotly's full validation raises on any bad attribute


def decode(z) -> np.ndarray:
    """A z as plotly.io encodes it (a base64 typed array) or a plain array -> numpy."""
    if isinstance(z, dict):
        dtype = {"u1": np.uint8, "i1": np.int8, "u2": np.uint16}[z["dtype"]]
        shape = [int(s) for s in z["shape"].split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=dtype).reshape(shape)
    return np.asarray(z)


def synthetic(classes: int, epochs: int = 500, G: int = 60, K: int = 2) -> tuple[Timelapse, RunConfig, object]:
    config = RunConfig(dataset="circles" if classes == 2 else "spiral", n_classes=classes, n_samples=120,
                       loss="bce" if classes == 2 else "ce")
    frame = inspection.boundary_frame(datasets.load(config), resolution=G)
    schedule = frame_epochs(epochs)
    rng = np.random.default_rng(1)
    raw = rng.random((K, len(schedule), classes, G, G)).astype(np.float32)
    probs = raw / raw.sum(2, keepdims=True)
    frames = quantise(probs[:, :, 1:]) if classes == 2 else quantise(probs)
    return Timelapse(schedule, frames), config, frame


@pytest.mark.parametrize("classes", [2, 3])
def test_one_animation_frame_per_recorded_epoch_each_the_recorded_grid(classes):
    tl, config, frame = synthetic(classes)
    history = {m: np.linspace(0.2, 0.9, 2 * 500).reshape(2, 500) for m in METRICS}
    fig = valid(playback.boundary_timelapse(frame, tl, 1, config=config, history=history))
    spec = pio.from_json(pio.to_json(fig, validate=False), skip_invalid=True).to_dict()
    assert [f["name"] for f in spec["frames"]] == [str(e) for e in tl.epochs] and len(tl.epochs) == 120
    steps = spec["layout"]["sliders"][0]["steps"]
    assert [s["args"][0] for s in steps] == [[str(e)] for e in tl.epochs]
    assert steps[0]["label"] == "epoch 0" and steps[-1]["label"].startswith("epoch 500 · test acc 90.0%")
    assert spec["layout"]["sliders"][0]["active"] == len(tl.epochs) - 1
    line = [i for i, t in enumerate(spec["data"]) if t.get("name") == "boundary line"]
    assert len(line) == 1 and spec["layout"]["images"][0]["layer"] == "below"
    for i in (0, 7, len(tl.epochs) - 1):
        probs = tl.probabilities(i)[1]                              # member 1
        frame_i = spec["frames"][i]
        assert frame_i["traces"] == line and len(frame_i["data"]) == 1     # only the line trace changes
        heat, levels = playback.quantised_fields(probs)
        img = png_rgb(frame_i["layout"]["images"][0]["source"])
        assert np.array_equal(img, field_image.field_rgb(heat, classes)[::-1].repeat(
            1 if classes == 2 else field_image.CRISP_UPSAMPLE, 0).repeat(1 if classes == 2 else
                                                                        field_image.CRISP_UPSAMPLE, 1))
        x, y = array(frame_i["data"][0]["x"]), array(frame_i["data"][0]["y"])
        expected = field_image.border_lines(frame.xs, frame.ys, levels, classes)
        assert np.array_equal(np.isnan(x), np.isnan(expected[0])) and np.allclose(x, expected[0], equal_nan=True)
        assert np.allclose(y, expected[1], equal_nan=True)
    base = spec["layout"]["images"][0]["source"]                   # shown: the last frame
    assert base == spec["frames"][-1]["layout"]["images"][0]["source"]


def test_play_pause_and_speeds_animate_in_the_browser_with_redraw():
    tl, config, frame = synthetic(2, K=1)
    fig = playback.boundary_timelapse(frame, tl, config=config, index=5, dim=True)
    menus = {m["name"]: m["buttons"] for m in fig.layout.to_plotly_json()["updatemenus"]}
    assert [b["label"] for b in menus["play"]] == ["▶ Play", "❚❚ Pause"]
    assert [b["label"] for b in menus["speed"]] == ["¼×", "½×", "1×", "2×", "4×"]
    durations = [b["args"][1]["frame"]["duration"] for b in menus["speed"]]
    # plotly shows the next frame on the first display frame (60 Hz) after a frame's duration: the frames a second
    # each speed plays, at most the display's 60
    shown = (lambda d: playback.DISPLAY_MS * (d // playback.DISPLAY_MS + 1))         # ms a frame is on screen
    rate = [1000 / shown(d) for d in durations]
    assert rate == pytest.approx([playback.PLAY_FPS * s for s in (0.25, 0.5, 1)] + [60, 60], rel=1e-9)
    assert menus["play"][0]["args"][1]["frame"]["duration"] == durations[2]
    paced = playback.boundary_timelapse(frame, tl, config=config, index=5, autoplay="run")    # the pace's Play:
    play = {m["name"]: m["buttons"] for m in paced.layout.to_plotly_json()["updatemenus"]}["play"][0]["args"]
    assert play[0] == [str(e) for e in tl.epochs[5:]]                                     # from the paced frame,
    assert shown(play[1]["frame"]["duration"]) * len(tl.epochs) == pytest.approx(        # the whole run in ~8 s
        1000 * playback.WATCH_SECONDS, abs=len(tl.epochs) * playback.DISPLAY_MS / 2)
    # no redraw: plotly moves the line alone; the page's script swaps the field image (field_frames)
    steps = fig.layout.to_plotly_json()["sliders"][0]["steps"]
    assert all(b["method"] == "animate" and b["args"][1]["frame"]["redraw"] is False
               for b in menus["speed"] + menus["play"][:1] + steps)
    assert fig.layout.sliders[0].active == 5 and fig.layout.meta["epoch"] == tl.epochs[5]
    assert fig.layout.images[0].opacity == 0.35 and fig.layout.meta["dim"]


def test_members_play_in_step_in_one_figure():
    tl, config, frame = synthetic(2, K=3)
    fig = valid(playback.boundary_timelapse_members(frame, tl, [0, 2], ["relu", "tanh"], config=config)).to_dict()
    line = [i for i, t in enumerate(fig["data"]) if t.get("name") == "boundary line"]
    assert [fig["data"][i]["xaxis"] for i in line] == ["x", "x2"]
    assert [(im["xref"], im["yref"]) for im in fig["layout"]["images"]] == [("x", "y"), ("x2", "y2")]
    f = fig["frames"][10]
    assert list(f["traces"]) == line and len(f["layout"]["images"]) == 2
    for member, im in zip((0, 2), f["layout"]["images"]):
        heat, _ = playback.quantised_fields(tl.probabilities(10)[member])
        assert np.array_equal(png_rgb(im["source"]), field_image.field_rgb(heat, 2)[::-1])
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["<b>relu</b>", "<b>tanh</b>"]


def test_a_real_circles_run_payload_is_one_modest_download():
    config = RunConfig(dataset="circles", epochs=300, hidden_layers=(8,), activation="tanh", device="cpu")
    final = list(Trainer(config).steps(timelapse=True))[-1]
    frame = inspection.boundary_frame(datasets.load(config), resolution=final.timelapse.resolution)
    fig = playback.boundary_timelapse(frame, final.timelapse, config=config, history=final.history)
    size = len(pio.to_json(fig, validate=False))
    print(f"circles time-lapse: {len(final.timelapse.epochs)} frames, {size} bytes of JSON")
    assert len(fig.frames) == len(final.timelapse.epochs) == 120
    assert size < 800_000                      # a PNG field and a polyline a frame (two uint8 grids were ~1.2 MB)


def test_points_are_thinned_for_playback_but_keep_both_splits_and_classes():
    tl, config, frame = synthetic(2, K=1)
    many = playback.thinned(frame, max_points=50)
    assert len(many.y_train) + len(many.y_test) <= 50 and set(many.y_train) == set(frame.y_train)
    assert playback.thinned(frame, max_points=10_000) is frame
    fig = playback.boundary_timelapse(frame, tl, config=config)
    drawn = sum(len(t.x) for t in fig.data if t.type == "scatter" and t.mode == "markers" and t.name != "boundary")
    assert drawn <= playback.MAX_POINTS


def test_a_paused_run_ends_its_time_lapse_at_the_paused_epoch():
    tl, config, frame = synthetic(2, K=1)
    part = Timelapse(tl.epochs[:50], tl.frames[:, :50])
    grid = tl.probabilities(60)                                          # (1, 2, G, G)
    longer = playback.with_latest(part, grid, 999)
    assert longer.epochs == [*part.epochs, 999] and np.array_equal(longer.frames[:, -1], tl.frames[:, 60])
    assert playback.with_latest(part, grid, part.epochs[-1]) is part and playback.with_latest(part, None, 999) is part


def test_the_watchable_pace_spreads_every_frame_over_its_seconds():
    n, seconds = 120, 8.0
    shown = [playback.paced_index(n, i * seconds / n + 1e-9, seconds) for i in range(n)]
    assert shown == list(range(n))                         # each frame gets its 1/n of the seconds, in order
    assert playback.paced_index(n, 0.0, seconds) == 0       # the untrained model first
    assert playback.paced_index(n, seconds, seconds) == n - 1 == playback.paced_index(n, 60.0, seconds)
    assert playback.paced_index(n, 1.0, 0.0) == n - 1       # no pace: the newest at once
    assert playback.paced_index(1, 0.0, seconds) == 0
    with pytest.raises(ValueError, match="at least one frame"):
        playback.paced_index(0, 1.0, seconds)


def test_metrics_text_reads_the_epochs_test_metrics():
    history = {m: np.array([[0.5, 0.25, 0.125]]) for m in METRICS}
    history["test_acc"] = np.array([[0.5, 0.75, 0.875]])
    assert playback.metrics_text(2, history) == " · test acc 75.0% · test loss 0.25"
    assert playback.metrics_text(0, history) == "" == playback.metrics_text(4, history)
    assert playback.epoch_label(3, history, 0) == "epoch 3 · test acc 87.5% · test loss 0.125"


def test_an_autoplayed_time_lapse_plays_from_its_shown_frame():
    timelapse, config, frame = synthetic(2, K=1)
    fig = playback.boundary_timelapse(frame, timelapse, config=config, index=7, autoplay="run-1").to_dict()
    play = fig["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][0] == [str(e) for e in timelapse.epochs[7:]]
    assert fig["layout"]["meta"]["autoplay"] == "run-1" and fig["layout"]["sliders"][0]["active"] == 7
    plain = playback.boundary_timelapse(frame, timelapse, config=config, index=7).to_dict()
    assert plain["layout"]["updatemenus"][0]["buttons"][0]["args"][0] is None and "autoplay" not in plain["layout"]["meta"]


@pytest.mark.parametrize("classes", [2, 3])
def test_a_live_boundary_is_the_time_lapse_frame_of_its_grid_and_smaller_than_float_z(classes):
    tl, config, frame = synthetic(classes, K=1)
    probs = tl.probabilities(len(tl.epochs) - 1)[0]
    live = valid(playback.live_boundary(frame, probs, config=config, epoch=500))
    played = playback.boundary_timelapse(frame, tl, config=config)
    spec = pio.from_json(pio.to_json(live, validate=False), skip_invalid=True).to_dict()
    base = pio.from_json(pio.to_json(played, validate=False), skip_invalid=True).to_dict()
    for mine, theirs in zip(spec["data"], base["data"]):               # the same traces, the same line
        assert mine["type"] == theirs["type"] and mine.get("name") == theirs.get("name")
        if mine.get("name") == "boundary line":
            assert np.allclose(array(mine["x"]), array(theirs["x"]), equal_nan=True)
    assert spec["layout"]["images"] == base["layout"]["images"]          # the same field image, placed the same
    assert spec["layout"]["meta"]["epoch"] == 500 and not spec.get("frames")
    X, Y = np.meshgrid(frame.xs, frame.ys)                             # a smooth field, as a model draws
    smooth = np.exp(-((X - 0.2) ** 2 + Y ** 2) * np.arange(1, classes + 1)[:, None, None])
    smooth = (smooth / smooth.sum(0)).astype(np.float32)
    full = plots.decision_boundary(frame.xs, frame.ys, smooth, X_train=frame.X_train, y_train=frame.y_train,
                                   X_test=frame.X_test, y_test=frame.y_test, class_names=frame.class_names)
    small = playback.live_boundary(frame, smooth, config=config, epoch=500)
    assert len(pio.to_json(small, validate=False)) < len(pio.to_json(full, validate=False)) / 2
    dim = playback.live_boundary(frame, probs, config=config, epoch=500, dim=True).to_dict()
    assert dim["layout"]["images"][0]["opacity"] == playback.DIM_OPACITY and dim["layout"]["meta"]["dim"]
