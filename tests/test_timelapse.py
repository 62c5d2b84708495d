"""The time-lapse: its frame schedule (first 0, last the final epoch, dense early), the engine records the
grid at exactly those epochs without changing a trained number, and the frames round-trip through bytes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nonlin_core import RunConfig
from nonlin_core.control import RunControl
from nonlin_core.timelapse import FRAMES, Timelapse, frame_epochs, quantise
from nonlin_core.training import METRICS, Trainer, train


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(0, 400), st.integers(0, 200_000)))
def test_frame_schedule(epochs):
    frames = frame_epochs(epochs)
    assert all(type(e) is int for e in frames)
    assert frames[0] == 0 and frames[-1] == epochs
    assert all(a < b for a, b in zip(frames, frames[1:]))                  # strictly ascending
    if epochs + 1 <= FRAMES:
        assert frames == list(range(epochs + 1))                          # tiny runs: every epoch
    else:
        assert 60 <= len(frames) <= 200 and len(frames) == FRAMES
    if epochs >= 100:
        assert sum(1 for e in frames if e <= epochs / 10) >= 10              # dense where the boundary forms
    early = min(epochs, 8)
    assert frames[:early + 1] == list(range(early + 1))                   # every early epoch


def test_frames_grow_sparser_later():
    gaps = np.diff(frame_epochs(5000))
    assert gaps[0] == 1 and gaps[-1] > 100 and np.all(np.diff(gaps) >= -1)   # (rounding may wobble by one)


def test_quantise_and_back():
    p = np.array([0.0, 1 / 255, 0.5, 1.0, np.nan])
    assert quantise(p).tolist() == [0, 1, 128, 255, 128]
    tl = Timelapse([0, 3], quantise(np.random.default_rng(0).random((2, 2, 1, 4, 4))))
    back = Timelapse.from_bytes(tl.to_bytes())
    assert back.epochs == [0, 3] and back.frames.dtype == np.uint8 and np.array_equal(back.frames, tl.frames)
    probs = tl.probabilities(1)
    assert probs.shape == (2, 2, 4, 4) and np.allclose(probs.sum(1), 1)


CASES = {"bce-full": {"dataset": "circles", "batch_size": 0},
         "ce-minibatch": {"dataset": "spiral", "n_classes": 3, "loss": "ce", "batch_size": 32}}


@pytest.mark.parametrize("case", CASES)
def test_engine_records_the_scheduled_frames_and_changes_no_number(case):
    config = RunConfig(n_samples=150, noise=0.1, epochs=300, hidden_layers=(8,), activation="tanh", device="cpu",
                       optimizer="adam", lr=0.02, dtype="float64", **CASES[case])
    plain = train(config)
    snaps = list(Trainer(config).steps(timelapse=True, grid_resolution=12, snapshot_every=37))
    final = snaps[-1]
    for m in METRICS:
        np.testing.assert_array_equal(final.history[m], plain.history[m], err_msg=m)
    for name, tensor in plain.state_dicts[0].items():
        assert np.array_equal(tensor.numpy(), final.state_dicts[0][name].numpy())
    tl = final.timelapse
    channels = 1 if config.loss == "bce" else 3
    assert tl.epochs == frame_epochs(300) and tl.frames.shape == (1, len(tl.epochs), channels, 12, 12)
    assert tl.frames.dtype == np.uint8 and tl.resolution == 12
    for snap in snaps[:-1]:                                              # frames so far, a prefix
        assert snap.timelapse.epochs == [e for e in tl.epochs if e <= snap.epoch + (config.batch_size == 0)]
        assert np.array_equal(snap.timelapse.frames, tl.frames[:, :len(snap.timelapse.epochs)])
    last = Trainer(config).steps(grid=True, grid_resolution=12)
    grid = list(last)[-1].grid                                          # the last frame is the final boundary
    assert np.abs(tl.probabilities(len(tl.epochs) - 1) - grid).max() <= 0.5 / 255 + 1e-6
    assert not np.array_equal(tl.frames[0, 0], tl.frames[0, -1])        # it learned


def test_a_run_that_stops_early_ends_its_time_lapse_where_it_stopped():
    config = RunConfig(dataset="moons", n_samples=100, epochs=500, device="cpu")
    schedule = frame_epochs(500)
    stop = next(e for e in range(200, 500) if e not in schedule)
    control = RunControl()
    control.step(stop)
    steps = Trainer(config).steps(timelapse=True, grid_resolution=8, control=control, snapshot_seconds=1e9)
    paused = next(s for s in steps if s.status != ["running"])            # after epoch 1's snapshot
    recorded = [e for e in schedule if e <= stop]
    assert paused.status == ["paused"] and paused.epoch == stop and paused.timelapse.epochs == recorded
    control.cancel()
    final = list(steps)[-1]
    assert final.status == ["cancelled"] and final.epoch == stop and final.timelapse.epochs == [*recorded, stop]
